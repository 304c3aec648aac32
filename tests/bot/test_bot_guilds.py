"""Many servers in one process: per-guild settings (/config), a document set per guild, admin commands hidden
from members, sharding, and re-indexing without an admin (schedule, file changes), through the real client."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bot_harness import check_all_sent, discord_session, make_bot_settings, member, run, write_corpus
from fake_discord import EPHEMERAL, MANAGE_GUILD, FakeDiscord, Interaction

from citebot.bot import CitebotBot
from citebot.bot.engines import Engines, set_settings
from citebot.bot.guilds import Guilds
from citebot.bot.reindexing import ProgressEmbedder, Reindexer, without_paths
from citebot.bot.settings import BotSettings
from citebot.index import Engine, HashEmbedder, Settings, WrappedEmbedder

BIRDS = {"birds.md": "# Birds\n\nThe kestrel hovers over motorway verges while it hunts voles.\n"}
KESTREL = "Where does the kestrel hover?"
G2_ADMIN = member(1300000000000000700, "second-admin")
G1_ADMIN = member(1300000000000000701, "first-admin")


def content(interaction: Interaction, n: int = 0) -> str:
    return str(interaction.replies[n].get("content") or "") if len(interaction.replies) > n else ""


def public_texts(fake: FakeDiscord) -> list[str]:
    """Every text the bot sent that is not ephemeral (what any member of the channel can read)."""
    out = []
    for payload in fake.sent_payloads():
        if not int(payload.get("flags") or 0) & EPHEMERAL:
            out.append(str(payload.get("content") or "") + str(payload.get("embeds") or ""))
    return out


async def config(fake: FakeDiscord, options: dict[str, Any] | None = None, user: dict[str, Any] | None = None,
                 channel_id: int | None = None, **kwargs: Any) -> Interaction:
    done = await fake.slash("config", options, user or G1_ADMIN, permissions=kwargs.pop("permissions", MANAGE_GUILD),
                            channel_id=channel_id, **kwargs)
    await fake.until(lambda: done.replies, what="the /config reply")
    return done


async def ask(fake: FakeDiscord, question: str, channel_id: int) -> dict[str, Any]:
    done = await fake.slash("ask", {"question": question}, member(), channel_id=channel_id)
    await fake.until(lambda: done.followups or done.replies, what=f"the answer to {question!r}")
    return (done.followups or done.replies)[0]


async def reindexed(fake: FakeDiscord, user: dict[str, Any], channel_id: int, **kwargs: Any) -> Interaction:
    done = await fake.slash("reindex", user=user, channel_id=channel_id, **kwargs)
    await fake.until(lambda: any("finished" in (e.get("content") or "") for e in done.edits)
                     or (done.replies and int(done.replies[0].get("flags") or 0) & EPHEMERAL),
                     timeout=30, what="the /reindex summary or refusal")
    return done


def cited(reply: dict[str, Any]) -> str:
    embeds = reply.get("embeds") or []
    return embeds[0]["fields"][0]["value"] if embeds else ""


def test_two_guilds_answer_from_their_own_set_and_reindex_only_their_own(
    tmp_path: Path, engine: Engine, corpus: Path
) -> None:
    birds = write_corpus(tmp_path / "birds", BIRDS)
    settings = make_bot_settings(dev_guild_id=None, document_sets={"birds": birds})  # global commands: both guilds

    async def scenario() -> None:
        async with discord_session(engine, settings, second_guild=True) as (fake, bot):
            # Admin commands are hidden from members (Manage Server by default); /ask is for everyone.
            perms = {name: fake.command(name)[0]["default_member_permissions"] for name in ("reindex", "config", "ask")}
            assert perms["ask"] is None and int(perms["reindex"]) == int(perms["config"]) == MANAGE_GUILD

            second = FakeDiscord.SECOND_CHANNEL_ID
            chosen = await config(fake, {"document_set": "birds"}, G2_ADMIN, second)
            assert int(chosen.replies[0]["flags"]) & EPHEMERAL and "`birds`" in content(chosen)
            assert bot.set_of(FakeDiscord.SECOND_GUILD_ID) == "birds" and bot.set_of(FakeDiscord.GUILD_ID) == "default"

            first = await reindexed(fake, G2_ADMIN, second, permissions=MANAGE_GUILD)
            assert "Re-indexing the `birds` documents" in content(first)
            assert "1 added, 0 updated, 0 removed, 0 unchanged" in first.edits[-1]["content"]
            details = [r for r in first.replies[1:] if int(r.get("flags") or 0) & EPHEMERAL]
            assert details and str(birds) in details[0]["content"], "the admin sees the folder, privately"

            # Each guild answers from its own set only.
            assert "birds.md" in cited(await ask(fake, KESTREL, second))
            assert not cited(await ask(fake, KESTREL, FakeDiscord.CHANNEL_ID))
            assert "tea.md" in cited(await ask(fake, "How long is green tea steeped?", FakeDiscord.CHANNEL_ID))
            assert not cited(await ask(fake, "How long is green tea steeped?", second))

            # Guild 1's /reindex re-reads guild 1's set, never the birds: the new bird file lands in birds only
            # when guild 2 re-indexes.
            (birds / "owls.md").write_text("# Owls\n\nThe barn owl nests in church towers.\n", encoding="utf-8")
            own = await reindexed(fake, G1_ADMIN, FakeDiscord.CHANNEL_ID, permissions=MANAGE_GUILD)
            assert "Re-index of the documents finished: 0 added, 0 updated, 0 removed, 4 unchanged" in \
                own.edits[-1]["content"]
            assert not cited(await ask(fake, "Where does the barn owl nest?", second))

            # An admin role of guild 2 (set with /config) re-indexes guild 2, and is nobody in guild 1.
            keepers = await config(fake, {"add_admin_role": fake.role_option(FakeDiscord.SECOND_ROLE_ID)},
                                   G2_ADMIN, second)
            assert f"<@&{FakeDiscord.SECOND_ROLE_ID}>" in content(keepers)
            helped = await fake.slash("help", user=member(), channel_id=second)
            await fake.until(lambda: helped.replies, what="/help")
            assert "Keepers" in helped.replies[0]["embeds"][0]["description"], "/help names the role, not its id"
            keeper = member(1300000000000000702, "keeper")
            refused = await reindexed(fake, keeper, FakeDiscord.CHANNEL_ID, roles=[FakeDiscord.SECOND_ROLE_ID],
                                      permissions=0)
            assert "Manage Server" in content(refused) and "Librarian" in content(refused)
            by_role = await reindexed(fake, keeper, second, roles=[FakeDiscord.SECOND_ROLE_ID], permissions=0)
            assert "1 added, 0 updated, 0 removed, 1 unchanged" in by_role.edits[-1]["content"]
            assert "owls.md" in cited(await ask(fake, "Where does the barn owl nest?", second))

            status = await fake.slash("status", user=member(), channel_id=second)
            await fake.until(lambda: status.replies, what="/status")
            fields = {f["name"]: f["value"] for f in status.replies[0]["embeds"][0]["fields"]}
            assert fields["Document set"] == "`birds`" and fields["Files"] == "2"
            assert str(tmp_path) not in str(status.replies[0]) and "Folder" not in fields, "/status shows no path"
            assert not any(str(tmp_path) in text for text in public_texts(fake)), "a server path in public"
            check_all_sent(fake)

        # The choice is stored: a restarted bot still answers guild 2 from the birds.
        async with discord_session(engine, settings, second_guild=True) as (fake, bot):
            assert bot.set_of(FakeDiscord.SECOND_GUILD_ID) == "birds"
            assert "birds.md" in cited(await ask(fake, KESTREL, FakeDiscord.SECOND_CHANNEL_ID))

    run(scenario(), timeout=120)


def test_config_shows_sets_and_resets_each_setting_privately(engine: Engine, tmp_path: Path) -> None:
    settings = make_bot_settings(document_sets={"api": None})

    async def scenario() -> None:
        async with discord_session(engine, settings) as (fake, bot):
            refused = await config(fake, user=member(), permissions=0)
            assert int(refused.replies[0]["flags"]) & EPHEMERAL and "Manage Server" in content(refused)

            shown = await config(fake)
            text = content(shown)
            assert int(shown.replies[0]["flags"]) & EPHEMERAL
            assert "Document set: `default` (default); offered: `default`, `api`" in text
            assert f"<#{FakeDiscord.ASK_CHANNEL_ID}> (default)" in text and "Librarian (default)" in text

            changed = await config(fake, {
                "add_ask_channel": fake.channel_option(FakeDiscord.CHANNEL_ID),
                "remove_ask_channel": fake.channel_option(FakeDiscord.ASK_CHANNEL_ID),
                "threads": True, "helper_role": fake.role_option(FakeDiscord.LIBRARIAN_ROLE_ID),
                "admin_channel": fake.channel_option(FakeDiscord.ADMIN_CHANNEL_ID),
            })
            text = content(changed)
            assert text.startswith("Saved.") and f"Ask channels: <#{FakeDiscord.CHANNEL_ID}>\n" in text
            assert "Threads for answers: on\n" in text and f"<@&{FakeDiscord.LIBRARIAN_ROLE_ID}>\n" in text
            cfg = bot.guild_settings.get(FakeDiscord.GUILD_ID)
            assert cfg.ask_channel_ids == [FakeDiscord.CHANNEL_ID] and cfg.thread_mode
            assert cfg.admin_channel_id == FakeDiscord.ADMIN_CHANNEL_ID
            assert cfg.helper_role_id == FakeDiscord.LIBRARIAN_ROLE_ID

            unknown = await config(fake, {"document_set": "/etc"})
            assert "no document set named" in content(unknown) and "`api`" in content(unknown)
            no_folder = await config(fake, {"document_set": "api"})
            assert "Document set: `api`;" in content(no_folder)
            cannot = await fake.slash("reindex", user=G1_ADMIN, permissions=MANAGE_GUILD)
            await fake.until(lambda: cannot.replies, what="the /reindex refusal")
            assert int(cannot.replies[0]["flags"]) & EPHEMERAL and "citebot index" in content(cannot)

            reset = await config(fake, {"reset": "ask channels"})
            assert f"<#{FakeDiscord.ASK_CHANNEL_ID}> (default)" in content(reset)
            everything = await config(fake, {"reset": "everything"})
            assert "Document set: `default` (default)" in content(everything)
            assert bot.guild_settings.changed(FakeDiscord.GUILD_ID) == set()
            check_all_sent(fake)

    run(scenario())


@pytest.mark.parametrize("shards", [2, "auto"])
def test_sharded_bot_serves_a_guild_on_each_shard(engine: Engine, shards: int | str) -> None:
    settings = make_bot_settings(dev_guild_id=None, shards=shards)

    def no_identify_wait(bot: CitebotBot) -> None:
        async def hook(shard_id: int | None, *, initial: bool = False) -> None:
            """Discord allows one IDENTIFY per 5 s; discord.py waits that long between shards. Not here."""

        bot.before_identify_hook = hook  # type: ignore[method-assign]

    async def scenario() -> None:
        async with discord_session(engine, settings, no_identify_wait, second_guild=True,
                                   recommended_shards=2) as (fake, bot):
            assert sorted(fake.shards_identified) == [(0, 2), (1, 2)]
            assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
            assert {g.id for g in bot.guilds} == {FakeDiscord.GUILD_ID, FakeDiscord.SECOND_GUILD_ID}
            asked_bot_gateway = any(c.path.endswith("/gateway/bot") for c in fake.calls)
            assert asked_bot_gateway == (shards == "auto"), "auto asks Discord for the shard count"
            for channel in (FakeDiscord.CHANNEL_ID, FakeDiscord.SECOND_CHANNEL_ID):
                status = await fake.slash("status", user=member(), channel_id=channel)
                await fake.until(lambda s=status: s.replies, what="/status on each shard")
                assert len(status.replies) == 1
            check_all_sent(fake)

    run(scenario())


def test_file_change_triggers_a_reindex_and_a_summary_in_the_admin_channel(engine: Engine, corpus: Path) -> None:
    settings = make_bot_settings(watch_documents=True, watch_quiet_seconds=0.3)

    async def scenario() -> None:
        async with discord_session(engine, settings) as (fake, bot):
            await config(fake, {"admin_channel": fake.channel_option(FakeDiscord.ADMIN_CHANNEL_ID)})
            posts: list[dict[str, Any]] = []
            for _ in range(10):  # the watcher starts with the bot: write until it has noticed (same text each time)
                for n in range(3):  # a burst of saves: one re-index once the folder is quiet
                    (corpus / f"birds{n}.md").write_text(BIRDS["birds.md"].replace("voles", f"voles {n}"),
                                                         encoding="utf-8")
                with contextlib.suppress(AssertionError):
                    posts = await fake.until(lambda: fake.replies_in(FakeDiscord.ADMIN_CHANNEL_ID), timeout=3,
                                             what="the summary in the admin channel")
                    break
            assert posts, "no summary after 30 s of writing"
            line = posts[0]["content"]
            assert line.startswith("Re-indexed the documents after files changed: 3 added, 0 updated, 0 removed, "
                                   "4 unchanged") and "\n" not in line
            assert bot.reindexer.last is not None and bot.reindexer.last[0].user_id == 0
            assert not fake.replies_in(FakeDiscord.CHANNEL_ID), "summaries go to the admin channel only"
            check_all_sent(fake)

    run(scenario())


def test_scheduled_reindex_posts_only_when_something_changed(engine: Engine, corpus: Path) -> None:
    settings = make_bot_settings(reindex_every_minutes=0.3 / 60, admin_roles=[])

    async def scenario() -> None:
        async with discord_session(engine, settings) as (fake, bot):
            await config(fake, {"admin_channel": fake.channel_option(FakeDiscord.ADMIN_CHANNEL_ID)})
            ran = bot.reindexer.last
            await fake.until(lambda: bot.reindexer.last is not ran and bot.reindexer.last, what="a scheduled run")
            assert not fake.replies_in(FakeDiscord.ADMIN_CHANNEL_ID), "nothing changed: nothing posted"
            (corpus / "tea.md").write_text("# Tea\n\nMatcha is whisked, never steeped.\n", encoding="utf-8")
            posts = await fake.until(lambda: fake.replies_in(FakeDiscord.ADMIN_CHANNEL_ID), timeout=20,
                                     what="the scheduled summary")
            assert posts[0]["content"].startswith(
                "Re-indexed the documents on schedule: 0 added, 1 updated, 0 removed, 3 unchanged")

    run(scenario())


class SlowEmbedder(WrappedEmbedder):
    """Embeds passages slowly enough that /reindex shows progress between batches."""

    def embed_passages(
        self, texts: Sequence[str], line_spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        time.sleep(0.4)
        return self.inner.embed_passages(texts, line_spans)


def test_reindex_progress_moves_while_embedding(tmp_path: Path) -> None:
    """24 new chunks, one indexer round (8 x 4 = 32 chunks): before issue 11, progress said 0/24 until done."""
    docs = write_corpus(tmp_path / "docs", {f"note{i:02}.md": f"# Note {i}\n\nFact number {i} is true.\n"
                                            for i in range(24)})
    settings = Settings(db_path=tmp_path / "db", docs_dir=docs, model="hash", batch_size=8, _env_file=None)
    engine = Engine(settings, SlowEmbedder(HashEmbedder()))

    async def scenario() -> None:
        async with discord_session(engine, make_bot_settings(reindex_progress_seconds=0.1)) as (fake, _bot):
            started = await reindexed(fake, G1_ADMIN, FakeDiscord.CHANNEL_ID, permissions=MANAGE_GUILD)
            shown = [e["content"] for e in started.edits if "embedding new passages" in (e.get("content") or "")]
            assert any(s.endswith(("8/24 from 24 changed files", "16/24 from 24 changed files")) for s in shown), shown
            assert "24 added" in started.edits[-1]["content"]

    run(scenario(), timeout=90)


# ----- units -----------------------------------------------------------------------------------------------------


def test_document_sets_setting_and_where_each_set_lives(tmp_path: Path) -> None:
    s = BotSettings(_env_file=None, document_sets="handbook=/srv/docs/handbook, api")
    assert s.document_sets == {"handbook": Path("/srv/docs/handbook"), "api": None}
    for bad in ("Hand Book=/x", "default=/x", "../up=/x"):
        with pytest.raises(ValueError, match="document set name"):
            BotSettings(_env_file=None, document_sets=bad)
    assert [BotSettings(_env_file=None, shards=v).shards for v in ("", "0", "auto", "2")] == [None, None, "auto", 2]
    with pytest.raises(ValueError, match="shards must be"):
        BotSettings(_env_file=None, shards="-1")
    base = Settings(db_path=tmp_path / "chroma", model="hash", _env_file=None)
    own = set_settings(base, "handbook", Path("/srv/docs/handbook"))
    assert (own.collection, own.db_path, own.docs_dir) == ("citebot-handbook", tmp_path / "chroma-handbook",
                                                            Path("/srv/docs/handbook"))
    assert own.resolved_state_dir() != base.resolved_state_dir()
    server = set_settings(Settings(chroma_host="chroma.local", model="hash", _env_file=None), "api", None)
    assert server.collection == "citebot-api" and "citebot-api" in str(server.resolved_state_dir())


def test_engines_are_lazy_shared_and_bounded(tmp_path: Path, engine: Engine) -> None:
    engines = Engines(engine, {"a": tmp_path / "a", "b": tmp_path / "b", "c": None}, limit=3)
    assert engines.opened() == ["default"]
    a = engines.get("a")
    assert engines.get("a") is a and engines.get("gone") is engine, "unknown or removed sets read the default"
    assert a.settings.collection == "citebot-a" and a.searcher.embedder is engines.embedder
    engines.get("b")
    engines.get("c")
    assert engines.opened() == ["default", "b", "c"], "the least recently asked set was closed, never the default"
    assert engines.reindexer("c").indexable is False and engines.reindexer("b").folder == tmp_path / "b"


def test_guild_settings_persist_in_the_database(tmp_path: Path) -> None:
    settings = BotSettings(_env_file=None, ask_channel_ids="5", admin_roles="Librarian")

    async def scenario() -> None:
        guilds = Guilds(settings, tmp_path / "bot.sqlite3")
        await guilds.load()
        assert guilds.get(1).ask_channel_ids == [5] and guilds.get(None).admin_roles == ["Librarian"]
        await guilds.update(1, by=9, collection="birds", ask_channel_ids=[7, 8], thread_mode=True)
        await guilds.update(2, admin_channel_id=11)
        guilds.close()
        again = Guilds(settings, tmp_path / "bot.sqlite3")
        await again.load()
        one = again.get(1)
        assert (one.collection, one.ask_channel_ids, one.thread_mode, one.admin_roles) == \
            ("birds", [7, 8], True, ["Librarian"])
        assert again.get(2).admin_channel_id == 11 and again.get(3).ask_channel_ids == [5]
        await again.update(1, ask_channel_ids=None)
        assert again.get(1).ask_channel_ids == [5] and again.changed(1) == {"collection", "thread_mode"}
        with pytest.raises(ValueError, match="unknown guild settings"):
            await again.update(1, docs_dir="/etc")
        again.close()

    run(scenario())


def test_progress_embedder_reports_each_batch() -> None:
    embedder = ProgressEmbedder(HashEmbedder(), batch_size=2)
    seen: list[int] = []
    embedder.on_embedded = seen.append
    vectors, lines = embedder.embed_passages(["a b", "c d", "e f", "g h", "i"], [[(0, 3)]] * 4 + [[(0, 1)]])
    assert seen == [2, 2, 1] and vectors.shape[0] == 5 and len(lines) == 5
    assert np.allclose(vectors, HashEmbedder().embed_passages(["a b", "c d", "e f", "g h", "i"],
                                                             [[(0, 3)]] * 4 + [[(0, 1)]])[0])


def test_no_server_path_survives_without_paths(tmp_path: Path) -> None:
    engine_settings = Settings(db_path=tmp_path / "db", docs_dir=tmp_path / "docs", model="hash", _env_file=None)
    reindexer = Reindexer(Engine(engine_settings))
    from citebot.bot.reindexing import server_folders

    text = f"the folder {tmp_path / 'docs'} does not exist; nothing is indexed at {tmp_path / 'db'}; see /var/x/y"
    clean = without_paths(text, server_folders(reindexer.engine.settings))
    assert str(tmp_path) not in clean and "/var/x" not in clean
    assert clean.startswith("the folder the document folder does not exist; nothing is indexed at the index")

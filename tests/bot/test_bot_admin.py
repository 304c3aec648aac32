"""/reindex (permissions, progress, summary, refusal while running, busy lock), /status and /help."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from bot_harness import check_all_sent, discord_session, make_bot_settings, member, run
from fake_discord import EPHEMERAL, MANAGE_GUILD, FakeDiscord, Interaction

from citebot.bot.render import NO_ANSWER
from citebot.index import Engine, HashEmbedder, Settings, WrappedEmbedder

KESTREL = "The kestrel hovers over motorway verges while it hunts voles.\n"


class GatedEmbedder(WrappedEmbedder):
    """HashEmbedder whose passage embedding waits for ``gate``: holds a re-index open while the test acts."""

    def __init__(self) -> None:
        super().__init__(HashEmbedder())
        self.gate = threading.Event()
        self.entered = threading.Event()

    def embed_passages(
        self, texts: Sequence[str], line_spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        self.entered.set()
        if not self.gate.wait(30):
            raise TimeoutError("the test never opened the gate")
        return self.inner.embed_passages(texts, line_spans)


def gated_engine(settings: Settings) -> tuple[Engine, GatedEmbedder]:
    embedder = GatedEmbedder()
    engine = Engine(settings, embedder)
    embedder.gate.set()
    engine.index()
    embedder.gate.clear()
    embedder.entered.clear()
    return engine, embedder


def _content(interaction: Interaction) -> str:
    return str(interaction.replies[0].get("content") if interaction.replies else "")


async def _reindex_field(fake: FakeDiscord) -> str:
    """What /status says about re-indexing: ``running now`` or ``idle``."""
    status = await fake.slash("status", user=member())
    await fake.until(lambda: status.replies, what="/status")
    return str({f["name"]: f["value"] for f in status.replies[0]["embeds"][0]["fields"]}["Re-index"])


def test_reindex_refused_without_permission_and_run_by_admin(index_settings: Settings, corpus: Path) -> None:
    engine, embedder = gated_engine(index_settings)

    async def scenario() -> None:
        async with discord_session(engine) as (fake, _bot):
            refused = await fake.slash("reindex", user=member(), permissions=0)
            await fake.until(lambda: refused.replies, what="the refusal")
            assert int(refused.replies[0]["flags"]) & EPHEMERAL
            assert "Manage Server" in _content(refused) and "Librarian" in _content(refused)
            assert not embedder.entered.is_set(), "a refused /reindex starts nothing"

            (corpus / "birds.md").write_text("# Birds\n\n" + KESTREL, encoding="utf-8")
            admin = member(1300000000000000500, "admin")
            first = await fake.slash("reindex", user=admin, permissions=MANAGE_GUILD)
            await fake.until(lambda: first.replies, what="the /reindex reply")
            assert not int(first.replies[0].get("flags") or 0) & EPHEMERAL
            assert "Re-indexing" in _content(first)
            await fake.until(embedder.entered.is_set, what="indexing to start")

            librarian = member(1300000000000000501, "librarian")
            second = await fake.slash("reindex", user=librarian, roles=[FakeDiscord.LIBRARIAN_ROLE_ID])
            await fake.until(lambda: second.replies, what="the second /reindex reply")
            assert int(second.replies[0]["flags"]) & EPHEMERAL
            assert "still running" in _content(second)

            # The previous index keeps answering while the new one is built.
            during = await fake.slash("ask", {"question": "Oolong: how many degrees and minutes?"}, member())
            kestrel = await fake.slash("ask", {"question": "Where does the kestrel hover?"}, member())
            await fake.until(lambda: during.followups and kestrel.followups, what="answers during the re-index")
            assert "Oolong" in during.followups[0]["embeds"][0]["description"]
            assert kestrel.followups[0]["content"] == NO_ANSWER, "new content is not served half-built"
            await fake.until(lambda: any("embedding" in (e.get("content") or "") for e in first.edits),
                             what="a progress edit")
            assert await _reindex_field(fake) == "running now"

            embedder.gate.set()
            await fake.until(lambda: any("finished" in (e.get("content") or "") for e in first.edits),
                             what="the summary")
            summary = first.edits[-1]["content"]
            assert "1 added, 0 updated, 0 removed, 4 unchanged" in summary

            after = await fake.slash("ask", {"question": "Where does the kestrel hover?"}, member())
            await fake.until(lambda: after.followups, what="the answer after re-indexing")
            embed = after.followups[0]["embeds"][0]
            assert "kestrel hovers over motorway verges" in embed["description"]
            assert "birds.md" in embed["fields"][0]["value"]

            third = await fake.slash("reindex", user=librarian, roles=[FakeDiscord.LIBRARIAN_ROLE_ID])
            await fake.until(lambda: any("finished" in (e.get("content") or "") for e in third.edits),
                             what="the role-holder's re-index")
            assert "0 added, 0 updated, 0 removed, 5 unchanged" in third.edits[-1]["content"]
            assert await _reindex_field(fake) == "idle", "a finished re-index no longer shows as running"
            check_all_sent(fake)

    run(scenario())


def test_status_reads_the_bots_reindexer_not_the_admin_cog(index_settings: Settings, corpus: Path) -> None:
    """/status asks the bot's re-index service; a running re-index shows even with the Admin cog unloaded."""
    engine, embedder = gated_engine(index_settings)

    async def scenario() -> None:
        async with discord_session(engine) as (fake, bot):
            (corpus / "birds.md").write_text("# Birds\n\n" + KESTREL, encoding="utf-8")
            started = await fake.slash("reindex", user=member(), permissions=MANAGE_GUILD)
            await fake.until(embedder.entered.is_set, what="indexing to start")
            await bot.unload_extension("citebot.bot.exts.admin")
            assert bot.get_cog("Admin") is None
            assert await _reindex_field(fake) == "running now"

            embedder.gate.set()  # the re-index the unloaded cog started still finishes and reports
            await fake.until(lambda: any("finished" in (e.get("content") or "") for e in started.edits),
                             what="the summary")
            assert await _reindex_field(fake) == "idle"

    run(scenario())


def test_reindex_reports_a_busy_index_held_by_another_writer(index_settings: Settings, corpus: Path) -> None:
    """Another process (here: another engine, e.g. the CLI) holds the writer lock: the bot says so, nothing breaks."""
    engine, _ = gated_engine(index_settings)
    other, other_embedder = gated_engine(index_settings)
    (corpus / "birds.md").write_text("# Birds\n\n" + KESTREL, encoding="utf-8")
    holder = threading.Thread(target=other.index, daemon=True)
    holder.start()
    try:
        assert other_embedder.entered.wait(20)

        async def scenario() -> None:
            async with discord_session(engine) as (fake, _bot):
                busy = await fake.slash("reindex", user=member(), permissions=MANAGE_GUILD)
                await fake.until(lambda: any("not done" in (e.get("content") or "") for e in busy.edits),
                                 what="the busy message")
                text = busy.edits[-1]["content"]
                assert "another re-index is running" in text and "\n" not in text
                ask = await fake.slash("ask", {"question": "When should roses be pruned?"}, member())
                await fake.until(lambda: ask.followups, what="an answer while the lock is held")
                assert "Prune roses" in ask.followups[0]["embeds"][0]["description"]

        run(scenario())
    finally:
        other_embedder.gate.set()
        holder.join(20)


def test_status_and_help(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine, make_bot_settings(admin_roles=["Librarian", "Maintainers"])) as (fake, _):
            status = await fake.slash("status", user=member())
            helped = await fake.slash("help", user=member())
            await fake.until(lambda: status.replies and helped.replies, what="/status and /help")
            assert int(status.replies[0]["flags"]) & EPHEMERAL and int(helped.replies[0]["flags"]) & EPHEMERAL
            fields = {f["name"]: f["value"] for f in status.replies[0]["embeds"][0]["fields"]}
            assert fields["Files"] == "4" and fields["Model"] == "hash-256" and fields["Re-index"] == "idle"
            assert fields["Last indexed"].startswith("<t:")
            text = helped.replies[0]["embeds"][0]["description"]
            assert "/ask" in text and f"<#{FakeDiscord.ASK_CHANNEL_ID}>" in text and "Maintainers" in text
            check_all_sent(fake)

    run(scenario())

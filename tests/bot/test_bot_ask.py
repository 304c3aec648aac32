"""Questions through the real discord.py client against FakeDiscord: /ask, mentions, ask-channels, the button."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bot_harness import (
    check_all_sent,
    discord_session,
    embed_len,
    make_bot_settings,
    member,
    run,
    settled,
    write_corpus,
)
from fake_discord import EPHEMERAL, FakeDiscord

from citebot.bot.render import NO_ANSWER, TENTATIVE_COLOUR
from citebot.index import TENTATIVE_NOTE, Engine, Settings

MESSAGE_CONTENT = 1 << 15
GUILD_MESSAGES = 1 << 9


def _answer_embed(payload: dict[str, Any]) -> dict[str, Any]:
    embeds = payload.get("embeds") or []
    assert len(embeds) == 1, payload
    return embeds[0]


def test_an_answer_below_the_sure_relevance_is_a_grey_embed_that_says_so_first(index_settings: Settings) -> None:
    engine = Engine(index_settings.model_copy(update={"sure_relevance": 1.0}))
    engine.index()

    async def scenario() -> None:
        async with discord_session(engine) as (fake, _bot):
            ask = await fake.slash("ask", {"question": "How long is green tea steeped?"}, member())
            await fake.until(lambda: ask.followups, what="the follow-up")
            embed = _answer_embed(ask.followups[0])
            caution, quote, cited = embed["description"].split("\n")
            assert caution == f"*{TENTATIVE_NOTE}*"
            assert quote == "> Green tea is steeped at 80 degrees Celsius for two minutes." and "tea.md:3" in cited
            assert embed["color"] == TENTATIVE_COLOUR.value
            assert embed["fields"][0]["value"].startswith("**1.** `tea.md:L1-L5`"), "cited as a plain answer is"

    run(scenario())


def test_slash_ask_defers_then_follows_up_with_a_cited_embed(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine) as (fake, _bot):
            assert fake.commands.get(FakeDiscord.GUILD_ID), "commands were synced to the dev guild"
            assert fake.intents & MESSAGE_CONTENT, "asks for the message content intent by default"
            assert {c["name"] for c in fake.commands[FakeDiscord.GUILD_ID]} >= {"ask", "reindex", "status", "help"}
            ask = await fake.slash("ask", {"question": "How long is green tea steeped?"}, member())
            await fake.until(lambda: ask.followups, what="the follow-up")
            assert ask.callbacks[0]["type"] == 5, "deferred first"
            assert len(ask.replies) == 1
            embed = _answer_embed(ask.followups[0])
            assert embed["description"].startswith("> Green tea is steeped at 80 degrees Celsius for two minutes.")
            assert "tea.md:3" in embed["description"]
            sources = embed["fields"][0]["value"]
            assert sources.startswith("**1.** `tea.md:L1-L5` · line 3"), sources
            assert not int(ask.followups[0].get("flags") or 0) & EPHEMERAL, "the answer is public"
            buttons = ask.followups[0]["components"][0]["components"]
            assert buttons[0]["label"] == "Show passage"
            check_all_sent(fake)

    run(scenario())


def test_mention_gets_a_cited_reply_and_other_bots_are_ignored(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine) as (fake, _bot):
            bot_user = fake.bot_user
            other_bot = FakeDiscord.user(1300000000000000099, "otherbot", bot=True)
            from_bot = await fake.post_message(f"<@{FakeDiscord.BOT_ID}> what are the rules for the deploy?",
                                               other_bot, mentions=[bot_user])
            await fake.post_message("I talk about roses but nobody mentions the bot", member())
            asker = await fake.post_message(f"<@{FakeDiscord.BOT_ID}> when should roses be pruned?", member(),
                                            mentions=[bot_user])
            replies = await fake.until(lambda: fake.replies_in(FakeDiscord.CHANNEL_ID), what="a reply")
            reply = replies[0]
            assert str(reply["message_reference"]["message_id"]) == asker["id"]
            embed = _answer_embed(reply)
            assert "Prune roses in late winter" in embed["description"]
            assert "garden/roses.md" in embed["fields"][0]["value"]
            # A later question is answered too, and still nothing answered the other bot or the plain message.
            await fake.post_message(f"<@!{FakeDiscord.BOT_ID}> how is green tea made?", member(), mentions=[bot_user])
            await fake.until(lambda: len(fake.replies_in(FakeDiscord.CHANNEL_ID)) >= 2, what="the second reply")
            await settled()  # a reply to the other bot or the plain message would have been sent by now
            replies = fake.replies_in(FakeDiscord.CHANNEL_ID)
            assert len(replies) == 2
            assert all(str(r["message_reference"]["message_id"]) != from_bot["id"] for r in replies)
            check_all_sent(fake)

    run(scenario())


def test_any_message_in_an_ask_channel_is_a_question(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine) as (fake, _bot):
            ask_here = FakeDiscord.ASK_CHANNEL_ID
            await fake.post_message("How many minutes does black tea want in boiling water?", member(), ask_here)
            replies = await fake.until(lambda: fake.replies_in(FakeDiscord.ASK_CHANNEL_ID), what="a reply")
            assert "Black tea wants boiling water" in _answer_embed(replies[0])["description"]
            await fake.post_message("", member(), channel_id=FakeDiscord.ASK_CHANNEL_ID)  # e.g. only an image
            await fake.post_message("Thanks!", fake.bot_user, channel_id=FakeDiscord.ASK_CHANNEL_ID)  # itself
            marker = await fake.post_message("Oolong: how many degrees?", member(), ask_here)
            await fake.until(lambda: len(fake.replies_in(FakeDiscord.ASK_CHANNEL_ID)) >= 2, what="reply 2")
            await settled()  # a reply to the empty message or to the bot's own would have been sent by now
            replies = fake.replies_in(FakeDiscord.ASK_CHANNEL_ID)
            assert len(replies) == 2, "the empty message and the bot's own message got no reply"
            assert str(replies[1]["message_reference"]["message_id"]) == marker["id"]

    run(scenario())


def test_show_passage_button_shows_the_cited_lines_ephemerally(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine) as (fake, _bot):
            ask = await fake.slash("ask", {"question": "Oolong: how many degrees and minutes?"}, member())
            await fake.until(lambda: ask.messages, what="the answer")
            click = await fake.click(ask.messages[0], FakeDiscord.user(1300000000000000042, "checker"))
            await fake.until(lambda: click.callbacks, what="the button's reply")
            reply = click.replies[0]
            assert int(reply["flags"]) & EPHEMERAL
            passage = reply["embeds"][0]
            assert passage["title"].startswith("tea.md:")
            body = passage["description"]
            assert body.startswith("```") and body.endswith("```")
            assert "5 ▶ Oolong sits between them: 90 degrees and three minutes." in body
            assert "3   Green tea is steeped" in body, "the rest of the passage, numbered"
            check_all_sent(fake)

    run(scenario())


def test_the_ask_extension_registers_and_removes_the_show_passage_button(engine: Engine) -> None:
    """The button's route comes and goes with the extension (its setup/teardown), not with the client."""

    async def scenario() -> None:
        async with discord_session(engine) as (fake, bot):
            ask = await fake.slash("ask", {"question": "Oolong: how many degrees and minutes?"}, member())
            await fake.until(lambda: ask.messages, what="the answer")
            loaded = await fake.click(ask.messages[0])
            await fake.until(lambda: loaded.replies, what="the passages while the extension is loaded")
            assert loaded.replies[0]["embeds"][0]["title"].startswith("tea.md:")

            await bot.unload_extension("citebot.bot.exts.ask")
            unloaded = await fake.click(ask.messages[0])
            helped = await fake.slash("help", user=member())  # read after the click: the gateway is ordered
            await fake.until(lambda: helped.replies, what="/help after the click")
            await settled()
            assert not unloaded.callbacks, "a click was answered after the ask extension was unloaded"

            await bot.load_extension("citebot.bot.exts.ask")
            reloaded = await fake.click(ask.messages[0])
            await fake.until(lambda: reloaded.replies, what="the passages after loading the extension again")
            assert reloaded.replies[0]["embeds"] == loaded.replies[0]["embeds"]
            check_all_sent(fake)

    run(scenario())


def test_off_topic_question_gets_the_plain_no_answer_reply(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine) as (fake, _bot):
            ask = await fake.slash("ask", {"question": "What is the airspeed velocity of an unladen swallow?"})
            await fake.until(lambda: ask.followups, what="the follow-up")
            reply = ask.followups[0]
            assert reply["content"] == NO_ANSWER
            assert not reply.get("embeds") and not reply.get("components"), "cites nothing, no button"
            check_all_sent(fake)

    run(scenario())


def test_sources_become_links_with_a_url_template(engine: Engine) -> None:
    template = "https://github.com/o/r/blob/main/{path}#L{start}-L{end}"

    async def scenario() -> None:
        async with discord_session(engine, make_bot_settings(source_url_template=template)) as (fake, _bot):
            ask = await fake.slash("ask", {"question": "When should roses be pruned?"})
            await fake.until(lambda: ask.followups, what="the follow-up")
            sources = ask.followups[0]["embeds"][0]["fields"][0]["value"]
            assert "(https://github.com/o/r/blob/main/garden/roses.md#L" in sources

    run(scenario())


def test_global_sync_without_a_dev_guild_and_without_message_content(engine: Engine) -> None:
    settings = make_bot_settings(dev_guild_id=None, message_content_intent=False)

    async def scenario() -> None:
        async with discord_session(engine, settings) as (fake, _bot):
            assert not fake.intents & MESSAGE_CONTENT and fake.intents & GUILD_MESSAGES
            assert FakeDiscord.GUILD_ID not in fake.commands
            assert {c["name"] for c in fake.commands[None]} >= {"ask", "reindex", "status", "help"}
            ask = await fake.slash("ask", {"question": "How long is black tea steeped?"})
            await fake.until(lambda: ask.followups, what="the follow-up")

    run(scenario())


def test_everyone_inside_a_document_does_not_ping(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine) as (fake, _bot):
            await fake.post_message(f"<@{FakeDiscord.BOT_ID}> kettle rule: who descales the office kettle?",
                                    member(), mentions=[fake.bot_user])
            replies = await fake.until(lambda: fake.replies_in(FakeDiscord.CHANNEL_ID), what="a reply")
            reply = replies[0]
            assert reply["allowed_mentions"] == {"parse": []}, "nobody can be pinged, not even the asker"
            description = reply["embeds"][0]["description"]
            assert "kitchen/notice.md" in description
            assert "@everyone" not in description and "@\u200beveryone" in description
            # Emphasis reads as its words at indexing ("*claims*" is "claims"); what Discord would still read as
            # markdown (strikethrough, code, spoilers) is escaped.
            assert "<@\u200b123456789012345678>" in description and "\\~\\~struck\\~\\~" in description
            check_all_sent(fake)

    run(scenario())


def test_an_answer_over_discord_limits_is_trimmed(tmp_path: Path) -> None:
    """Long lines, a very long path and a long question: every message still fits, trimmed with an ellipsis."""
    deep = "/".join(["a-rather-long-folder-name-for-the-archive"] * 12)
    def line(i: int, j: int) -> str:
        return " ".join(f"Station {i}-{j}-{k}: the glacier survey measured meltwater, moraine drift and crevasse "
                        "depth." for k in range(10))

    files = {f"{deep}/survey-{i}.md": "# Survey\n\n" + "\n".join(line(i, j) for j in range(12)) + "\n"
             for i in range(6)}
    settings = Settings(db_path=tmp_path / "db", docs_dir=write_corpus(tmp_path / "docs", files), model="hash",
                        _env_file=None)
    engine = Engine(settings)
    engine.index()
    question = "What did the glacier survey measure about meltwater, moraine drift and crevasse depth? " * 10
    template = "https://example.test/archive/blob/main/{path}#L{start}-L{end}"

    async def scenario() -> None:
        async with discord_session(engine, make_bot_settings(max_sources=10, source_url_template=template)) as (
            fake, _bot
        ):
            ask = await fake.slash("ask", {"question": question.strip()}, member())
            await fake.until(lambda: ask.followups, what="the answer")
            embed = ask.followups[0]["embeds"][0]
            assert len(embed["title"]) <= 256 and embed["title"].endswith("…")
            assert len(embed["fields"][0]["value"]) <= 1024 and "…" in embed["fields"][0]["value"]
            click = await fake.click(ask.messages[0])
            await fake.until(lambda: click.callbacks, what="the passages")
            passages = click.replies[0]["embeds"]
            assert len(passages) == 5 and sum(embed_len(p) for p in passages) <= 6000
            for p in passages:  # long paths are shortened in the middle; the file name and lines are kept
                assert len(p["title"]) <= 256 and "…" in p["title"]
                assert re.search(r"/survey-\d\.md:(L\d+-L\d+|\d+)$", p["title"]), p["title"]
            cut = [p for p in passages if "⋮" in p["description"] or "…" in p["description"]]
            assert cut, "the passages (about 7,000 characters in full) were cut to fit the 6,000 total"
            check_all_sent(fake)

    run(scenario())

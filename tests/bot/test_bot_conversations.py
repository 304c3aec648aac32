"""Conversations through the real discord.py client against FakeDiscord: threads and follow-ups with context,
ask-channel etiquette, private refusals, role mentions, DMs, and Show passage after a restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from bot_harness import TOKEN, check_all_sent, discord_session, make_bot_settings, member, run, settled
from fake_discord import EPHEMERAL, FakeDiscord, pointed_at

from citebot.bot import BotSettings, CitebotBot, create_bot
from citebot.bot.etiquette import is_small_talk, looks_like_question
from citebot.bot.exts.ask import CHANGED, DM_REDIRECT
from citebot.bot.render import NO_ANSWER, PATH_CHARS, READ_WITH
from citebot.index import Engine, Settings
from citebot.index.followup import Turn, answer_followup, contextual_query, is_elliptical

ROSES_Q = "When should roses be pruned?"
ROSES_FOLLOWUP = "and how often do they need water?"  # alone it finds nothing (hash model); with roses, line 4


def _embed(payload: dict[str, Any]) -> dict[str, Any]:
    embeds = payload.get("embeds") or []
    assert len(embeds) == 1, payload
    return embeds[0]


def test_what_looks_like_a_question_and_what_is_small_talk() -> None:
    questions = ["How do I rotate the logs?", "deploy script location?", "explain the rollback", "how to prune roses",
                 "I get error E42 when deploying", "the deploy fails on a missing tag", "can't connect to the db",
                 "show me the config", "is there a way to skip tests"]
    chatter = ["thanks!", "Thank you so much 🙏", "lol", "hello everyone 👋", "🙂🙂", ":+1:", "<:pepe:123456>",
               "ok cool", "thanks, that worked", "gm all", "nice one", "my kettle broke today", "brb"]
    for text in questions:
        assert looks_like_question(text) and not is_small_talk(text), text
    for text in chatter:
        assert not looks_like_question(text), text
    for text in chatter[:10]:
        assert is_small_talk(text), text
    assert not is_small_talk("thanks! and how do I roll back?"), "a question after the thanks is a question"


def test_elliptical_follow_ups_are_told_from_self_contained_ones() -> None:
    for q in ("and less verbose?", "what about black tea?", "does the app need it too?", "how do I stop that?",
              "why?", "with ctrl held down?"):
        assert is_elliptical(q), q
    for q in ("How do I run the devtools console on another port?", "When should roses be pruned in winter?",
              "What is the default easing method for animate?"):
        assert not is_elliptical(q), q
    turns = [Turn("and black?"), Turn("How long is oolong steeped?"), Turn("Where do the roses go?")]
    assert contextual_query("and green?", turns) == "and green? and black? How long is oolong steeped?"


def test_a_self_contained_follow_up_is_searched_alone(engine: Engine) -> None:
    asked: list[str] = []

    def ask(q: str) -> Any:
        asked.append(q)
        return engine.ask(q)

    result = answer_followup(ask, "Where does the deploy script live?", [Turn(ROSES_Q, ("garden/roses.md",))])
    assert asked == ["Where does the deploy script live?"] and result.read_with is None
    assert result.answer.hits[0].source == "ops/deploy.txt"
    elliptical = answer_followup(engine.ask, ROSES_FOLLOWUP, [Turn(ROSES_Q, ("garden/roses.md",))])
    assert elliptical.read_with == ROSES_Q and elliptical.answer.question == ROSES_FOLLOWUP
    assert engine.ask(ROSES_FOLLOWUP).abstained, "the follow-up alone finds nothing: context is what answers it"
    assert elliptical.answer.hits[0].source == "garden/roses.md" and elliptical.answer.hits[0].line == 4


def test_the_earlier_question_does_not_pull_a_follow_up_back_to_the_earlier_answer(index_settings: Settings) -> None:
    """Searched with "When should roses be pruned?", "what about watering them?" lands on the pruning line; the
    bare search already answers from the conversation's file (roses.md), so that answer is kept.

    The abstention threshold is pinned: the hash model's bare answer scores 0.43, near the shipped threshold
    (fitted for the real model), and this test is about choosing between two answers, not about abstaining."""
    engine = Engine(index_settings.model_copy(update={"min_relevance": 0.3}))
    engine.index()
    turns = [Turn(ROSES_Q, ("garden/roses.md",))]
    contextual = engine.ask(contextual_query("what about watering them?", turns))
    assert contextual.hits[0].line == 3, "the pull this guards against (hash model: the earlier words dominate)"
    result = answer_followup(engine.ask, "what about watering them?", turns)
    assert result.answer.hits[0].line == 4 and result.read_with is None
    assert "Water roses deeply" in result.answer.hits[0].line_text


def test_thread_mode_answers_in_a_thread_and_follow_ups_there_use_the_conversation(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine, make_bot_settings(thread_mode=True)) as (fake, _bot):
            question = await fake.say(f"<@{FakeDiscord.BOT_ID}> {ROSES_Q}", member(), mentions=[fake.bot_user])
            thread = await fake.until(lambda: fake.thread_of(question), what="a thread from the question")
            thread_id = int(thread["id"])
            first = (await fake.until(lambda: fake.replies_in(thread_id), what="the answer in the thread"))[0]
            assert "Prune roses in late winter" in _embed(first)["description"]
            assert not fake.replies_in(FakeDiscord.CHANNEL_ID), "nothing in the channel itself"
            # A follow-up inside the thread: no mention needed, answered with the earlier question as context.
            await fake.say(ROSES_FOLLOWUP, member(), thread_id)
            await fake.until(lambda: len(fake.replies_in(thread_id)) >= 2, what="the follow-up's answer")
            second = _embed(fake.replies_in(thread_id)[1])
            assert second["title"] == ROSES_FOLLOWUP
            assert "Water roses deeply once a week" in second["description"]
            assert "garden/roses.md" in second["fields"][0]["value"]
            assert second["footer"]["text"].startswith(READ_WITH + ROSES_Q)
            # Small talk in the thread gets nothing; a question after it is answered (so the thanks was read).
            await fake.say("thanks, that helps!", member(), thread_id)
            await fake.say("Where does the deploy script live?", member(), thread_id)
            await fake.until(lambda: len(fake.replies_in(thread_id)) >= 3, what="the third answer")
            await settled()
            third = fake.replies_in(thread_id)
            assert len(third) == 3 and "scripts/deploy.sh" in _embed(third[2])["description"]
            assert "footer" not in _embed(third[2]) or READ_WITH not in _embed(third[2])["footer"]["text"], (
                "a self-contained follow-up is answered on its own"
            )
            check_all_sent(fake)

    run(scenario())


def test_a_reply_to_an_answer_is_a_follow_up_and_a_refused_thread_answers_in_place(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine, make_bot_settings(thread_mode=True)) as (fake, _bot):
            fake.refuse_threads = True
            await fake.say(f"<@{FakeDiscord.BOT_ID}> {ROSES_Q}", member(), mentions=[fake.bot_user])
            answer = (await fake.until(lambda: fake.replies_in(FakeDiscord.CHANNEL_ID), what="the answer"))[0]
            assert "Prune roses" in _embed(answer)["description"], "answered in place when no thread can start"
            reply = await fake.say(ROSES_FOLLOWUP, member(), reply_to=answer)  # no mention: a reply to the bot
            replies = await fake.until(lambda: fake.replies_in(FakeDiscord.CHANNEL_ID)[1:], what="the follow-up")
            assert str(replies[0]["message_reference"]["message_id"]) == reply["id"]
            assert "Water roses deeply" in _embed(replies[0])["description"]
            check_all_sent(fake)

    run(scenario())


def test_ask_channel_ignores_small_talk_and_other_peoples_messages_and_they_do_not_count(engine: Engine) -> None:
    settings = make_bot_settings(cooldown_rate=1, cooldown_seconds=600)

    async def scenario() -> None:
        async with discord_session(engine, settings) as (fake, _bot):
            here = FakeDiscord.ASK_CHANNEL_ID
            asker, friend = member(), member(1300000000000000002, "friend")
            said = await fake.say("my kettle broke today", friend, here)  # neither question nor help-seeking
            for chatter in ("thanks!", "lol", "hello everyone 👋", "🙂🙂", "ok cool", "ty so much"):
                await fake.say(chatter, asker, here)
            await fake.say("<@1300000000000000002> how was your weekend?", asker, here, mentions=[friend])
            await fake.say("how long do you steep yours?", asker, here, reply_to=said)  # a reply to a member
            await fake.say("How long is green tea steeped?", asker, here)  # the first question counted
            replies = await fake.until(lambda: fake.replies_in(here), what="the answer")
            await settled()
            assert len(fake.replies_in(here)) == 1, [r.get("content") for r in fake.replies_in(here)]
            assert "Green tea is steeped" in _embed(replies[0])["description"], "not throttled by the chatter"
            check_all_sent(fake)

    run(scenario())


def test_ask_channel_without_an_answer_says_so_in_one_line_with_nearest_sections(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine) as (fake, _bot):
            await fake.say("How do I calibrate the quantum flux capacitor?", member(), FakeDiscord.ASK_CHANNEL_ID)
            reply = (await fake.until(lambda: fake.replies_in(FakeDiscord.ASK_CHANNEL_ID), what="a reply"))[0]
            text = reply["content"]
            assert text.startswith("I found nothing in the documents") and "Nearest sections:" in text
            assert "\n" not in text and len(text) < 300 and not reply.get("embeds")
            # A mention elsewhere still gets the full no-answer sentence.
            await fake.say(f"<@{FakeDiscord.BOT_ID}> How do I calibrate the flux capacitor?", member(),
                           mentions=[fake.bot_user])
            mention = (await fake.until(lambda: fake.replies_in(FakeDiscord.CHANNEL_ID), what="a reply"))[0]
            assert mention["content"] == NO_ANSWER
            check_all_sent(fake)

    run(scenario())


def test_refusals_for_messages_delete_themselves_or_are_a_reaction(engine: Engine) -> None:
    settings = make_bot_settings(cooldown_rate=1, cooldown_seconds=600, notice_seconds=0.2)

    async def scenario() -> None:
        async with discord_session(engine, settings) as (fake, _bot):
            mention = f"<@{FakeDiscord.BOT_ID}>"
            await fake.say(f"{mention} How long is green tea steeped?", member(), mentions=[fake.bot_user])
            await fake.say(f"{mention} And black tea?", member(), mentions=[fake.bot_user])
            await fake.say(mention, member(1300000000000000003, "other"), mentions=[fake.bot_user])
            replies = await fake.until(lambda: len(fake.replies_in(FakeDiscord.CHANNEL_ID)) >= 3, what="replies")
            notices = [r for r in fake.replies_in(FakeDiscord.CHANNEL_ID) if r.get("content")]
            firsts = sorted(n["content"].split(":")[0] for n in notices)
            assert firsts == ["The question is empty", "You're asking quickly"]
            await fake.until(lambda: {int(n["id"]) for n in notices} <= set(fake.deleted), what="notices deleted")
            assert replies, "and the answer itself stays"
        async with discord_session(engine, make_bot_settings(cooldown_rate=1, cooldown_seconds=600,
                                                             notice_seconds=0)) as (fake, _bot):
            for _ in range(2):
                await fake.say(f"<@{FakeDiscord.BOT_ID}> When should roses be pruned?", member(),
                               mentions=[fake.bot_user])
            await fake.until(lambda: fake.reactions and fake.replies_in(FakeDiscord.CHANNEL_ID), what="both")
            await settled()
            assert len(fake.replies_in(FakeDiscord.CHANNEL_ID)) == 1 and fake.reactions[0][1] == "⏳"

    run(scenario())


def test_nothing_indexed_reaches_members_without_a_server_path(tmp_path: Path) -> None:
    empty = Engine(Settings(db_path=tmp_path / "secret-server-folder", model="hash", _env_file=None))

    async def scenario() -> None:
        async with discord_session(empty, make_bot_settings(notice_seconds=30)) as (fake, _bot):
            await fake.say(f"<@{FakeDiscord.BOT_ID}> How long is green tea steeped?", member(),
                           mentions=[fake.bot_user])
            ask = await fake.slash("ask", {"question": "How long is green tea steeped?"}, member())
            reply = (await fake.until(lambda: fake.replies_in(FakeDiscord.CHANNEL_ID), what="a reply"))[0]
            await fake.until(lambda: ask.followups, what="the /ask reply")
            assert reply["content"] == "The documents are not indexed yet; an admin has been told."
            assert int(ask.followups[0]["flags"]) & EPHEMERAL
            for payload in fake.sent_payloads():
                text = str(payload)
                assert "secret-server-folder" not in text and "citebot index" not in text, text

    run(scenario())


def test_a_mention_of_the_bots_role_counts_and_dms_follow_the_policy(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine) as (fake, _bot):
            await fake.say(f"<@&{FakeDiscord.BOT_ROLE_ID}> when should roses be pruned?", member(),
                           mention_roles=[FakeDiscord.BOT_ROLE_ID])
            reply = (await fake.until(lambda: fake.replies_in(FakeDiscord.CHANNEL_ID), what="a reply"))[0]
            assert "Prune roses" in _embed(reply)["description"]
            await fake.say("How long is green tea steeped?", member(), dm=True)
            dm = (await fake.until(lambda: fake.replies_in(FakeDiscord.DM_CHANNEL_ID), what="a DM reply"))[0]
            assert dm["content"] == DM_REDIRECT
        async with discord_session(engine, make_bot_settings(dm_policy="answer")) as (fake, _bot):
            await fake.say("How long is green tea steeped?", member(), dm=True)
            dm = (await fake.until(lambda: fake.replies_in(FakeDiscord.DM_CHANNEL_ID), what="a DM answer"))[0]
            assert "Green tea is steeped" in _embed(dm)["description"]
            check_all_sent(fake)

    run(scenario())


@contextlib.asynccontextmanager
async def bot_on(fake: FakeDiscord, engine: Engine, settings: BotSettings) -> AsyncIterator[CitebotBot]:
    """A bot process's lifetime against an existing FakeDiscord (so a test can restart the bot)."""
    with pointed_at(fake):
        bot = create_bot(settings, engine.settings, engine, guild_ready_timeout=0.05)
        runner = asyncio.create_task(bot.start(TOKEN))
        try:
            await asyncio.wait_for(bot.wait_until_ready(), 20)
            yield bot
        finally:
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(runner, 10)


@pytest.mark.parametrize("template", [None, "https://example.test/blob/main/{path}#L{start}-L{end}"])
def test_show_passage_after_a_restart_and_after_the_file_changed(engine: Engine, corpus: Path,
                                                                 template: str | None) -> None:
    """With and without links in the Sources field: the citations are read back from the answer either way."""
    settings = make_bot_settings(source_url_template=template)

    async def scenario() -> None:
        fake = FakeDiscord(TOKEN)
        await fake.start()
        try:
            async with bot_on(fake, engine, settings):
                ask = await fake.slash("ask", {"question": "Oolong: how many degrees and minutes?"}, member())
                await fake.until(lambda: ask.messages, what="the answer")
                before = await fake.click(ask.messages[0])
                await fake.until(lambda: before.replies, what="the passages from memory")
            async with bot_on(fake, engine, settings):  # restarted: the answer cache is empty
                after = await fake.click(ask.messages[0])
                await fake.until(lambda: after.replies, what="the passages after a restart")
                assert after.replies[0]["embeds"] == before.replies[0]["embeds"]
                assert not after.replies[0].get("content") and int(after.replies[0]["flags"]) & EPHEMERAL
                tea = corpus / "tea.md"
                tea.write_text(tea.read_text().replace("90 degrees", "85 degrees"))
                await asyncio.to_thread(engine.index)
                changed = await fake.click(ask.messages[0])
                await fake.until(lambda: changed.replies, what="the passages of the changed file")
                assert changed.replies[0]["content"] == CHANGED
                assert "85 degrees" in changed.replies[0]["embeds"][0]["description"]
            check_all_sent(fake)
        finally:
            await fake.stop()

    run(scenario())


def test_show_passage_after_a_restart_finds_a_file_cited_under_a_shortened_path(engine: Engine, corpus: Path) -> None:
    """A path too long to show whole is cited with an ellipsis; after a restart the passage is still found."""
    deep = corpus / "guides" / ("a-rather-long-section-name-" * 2) / ("and-a-subsection-" * 3) / "kombucha-brewing.md"
    deep.parent.mkdir(parents=True)
    deep.write_text("# Kombucha\n\nKombucha ferments for seven to ten days at room temperature.\n")
    assert len(deep.relative_to(corpus).as_posix()) > PATH_CHARS
    engine.index()

    async def scenario() -> None:
        fake = FakeDiscord(TOKEN)
        await fake.start()
        try:
            async with bot_on(fake, engine, make_bot_settings()):
                ask = await fake.slash("ask", {"question": "How many days does kombucha ferment?"}, member())
                await fake.until(lambda: ask.messages, what="the answer")
                assert "…" in _embed(ask.messages[0])["fields"][0]["value"]  # the path is shown shortened
            async with bot_on(fake, engine, make_bot_settings()):  # restarted: the answer cache is empty
                after = await fake.click(ask.messages[0])
                await fake.until(lambda: after.replies, what="the passages after a restart")
                assert not after.replies[0].get("content")  # neither "forgotten" nor "changed"
                assert "seven to ten days" in after.replies[0]["embeds"][0]["description"]
            check_all_sent(fake)
        finally:
            await fake.stop()

    run(scenario())

"""Feedback through the real discord.py client against FakeDiscord: 👍 / 👎, "Still need help?", /gaps, /forget-me.

Answers are posted by the bot itself (``post_answer``: the engine's answer, the view of ``answer_items``, sent
through the real client) so that these tests hold whatever shape the ask cog's replies take; one test checks
that /ask's own answers carry the same buttons.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

import discord
import pytest
from bot_harness import check_payload, discord_session, make_bot_settings, member, run, settled
from fake_discord import EPHEMERAL, MANAGE_GUILD, MEMBER_PERMISSIONS, FakeDiscord, Interaction

from citebot.bot import CitebotBot
from citebot.bot.exts.feedback import gaps_embed
from citebot.bot.feedback import (
    CHANGED_VOTE,
    FEEDBACK_OFF,
    HELP_AGAIN,
    HELP_SENT,
    SAME_VOTE,
    THANKS_DOWN,
    THANKS_UP,
    UNKNOWN_ANSWER,
    answer_items,
    record_abstained,
)
from citebot.bot.render import NO_ANSWER, NO_MENTIONS, answer_embed
from citebot.index import NOT_STORED, Engine, GapGroup, Settings

ASKER = member(1300000000000000001, "asker")
VOTER = member(1300000000000000002, "voter")
ADMIN = member(1300000000000000003, "admin")
HELPERS_ROLE = 1300000000000000050
ADMIN_PERMISSIONS = MEMBER_PERMISSIONS | MANAGE_GUILD
ANSWERED = "How long is green tea steeped?"
UNANSWERED = "What is the airspeed velocity of an unladen swallow?"


async def post_answer(fake: FakeDiscord, bot: CitebotBot, question: str, asker: dict[str, Any] = ASKER,
                      channel_id: int = FakeDiscord.CHANNEL_ID) -> dict[str, Any]:
    """The bot answers ``question`` in a channel, the feedback items on its reply; the message as Discord holds it."""
    guild_id = fake.guild_of(channel_id)
    answer = await asyncio.to_thread(bot.engine_for(guild_id).ask, question)
    where = {"guild_id": guild_id, "channel_id": channel_id, "user_id": int(asker["id"])}
    view = discord.ui.View(timeout=None)
    items = record_abstained(bot, answer, **where) if answer.abstained else answer_items(bot, answer, **where)
    for item in items:
        view.add_item(item)
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    if answer.abstained:
        sent = await channel.send(NO_ANSWER, view=view, allowed_mentions=NO_MENTIONS)
    else:
        sent = await channel.send(embed=answer_embed(answer), view=view, allowed_mentions=NO_MENTIONS)
    return fake.messages[sent.id]


def labels(message: dict[str, Any]) -> list[str]:
    return [c.get("label") for row in message["components"] for c in row.get("components", [])]


async def press(fake: FakeDiscord, message: dict[str, Any], label: str, user: dict[str, Any]) -> Interaction:
    pressed = await fake.click(message, user, label=label)
    await fake.until(lambda: pressed.replies, what=f"the reply to {label}")
    return pressed


async def gaps(fake: FakeDiscord, **options: Any) -> Interaction:
    asked = await fake.slash("gaps", options, ADMIN, permissions=ADMIN_PERMISSIONS)
    await fake.until(lambda: asked.replies, what="the /gaps reply")
    return asked


def private_text(interaction: Interaction) -> str:
    reply = interaction.replies[-1]
    assert int(reply.get("flags") or 0) & EPHEMERAL, reply
    check_payload(reply)
    return str(reply.get("content") or "")


def test_a_downvote_then_gaps_lists_it(engine: Engine) -> None:
    async def scenario() -> None:
        settings = make_bot_settings(store_questions=True)
        async with discord_session(engine, settings) as (fake, bot):
            answered = await post_answer(fake, bot, ANSWERED)
            assert labels(answered) == ["Helpful", "Not helpful"]  # no helper role: no "Still need help?"
            unanswered = await post_answer(fake, bot, UNANSWERED)
            assert unanswered["components"] == []  # nothing to vote on, nobody to call
            down = await press(fake, answered, "Not helpful", VOTER)
            assert private_text(down) == THANKS_DOWN

            report = await gaps(fake)
            reply = report.replies[-1]
            assert int(reply["flags"]) & EPHEMERAL and report.deferred
            check_payload(reply)
            text = reply["embeds"][0]["description"]
            assert ANSWERED in text and "asked once: 1 👎" in text and "`tea.md`" in text
            assert UNANSWERED in text and "asked once: 1 unanswered" in text
            assert NOT_STORED not in text

    run(scenario())


def test_an_answer_given_unsure_is_listed_by_gaps(index_settings: Settings) -> None:
    """With every answer below the sure answerability (sure_relevance 1), an answered question with no vote is
    a gap of its own kind; /gaps reads the threshold of the engine that answers the guild."""
    engine = Engine(index_settings.model_copy(update={"sure_relevance": 1.0}))
    engine.index()

    async def scenario() -> None:
        async with discord_session(engine, make_bot_settings(store_questions=True)) as (fake, bot):
            await post_answer(fake, bot, ANSWERED)
            text = (await gaps(fake)).replies[-1]["embeds"][0]["description"]
            assert ANSWERED in text and "asked once: 1 unsure" in text and "`tea.md`" in text

    run(scenario())


def test_votes_are_one_per_member_and_change(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine, make_bot_settings(store_questions=True)) as (fake, bot):
            answered = await post_answer(fake, bot, ANSWERED)
            assert private_text(await press(fake, answered, "Not helpful", VOTER)) == THANKS_DOWN
            assert private_text(await press(fake, answered, "Not helpful", VOTER)) == SAME_VOTE.format(vote="👎")
            assert private_text(await press(fake, answered, "Helpful", VOTER)) == CHANGED_VOTE.format(vote="👍")
            assert "No gaps recorded" in private_text(await gaps(fake))  # the 👎 was replaced by the 👍
            assert private_text(await press(fake, answered, "Helpful", ASKER)) == THANKS_UP
            assert private_text(await press(fake, answered, "Not helpful", ASKER)) == CHANGED_VOTE.format(vote="👎")
            assert "asked once: 1 👎" in (await gaps(fake)).replies[-1]["embeds"][0]["description"]
            with sqlite3.connect(bot.feedback.path) as con:
                assert sorted(con.execute("SELECT user_id, vote FROM feedback")) == [
                    (int(ASKER["id"]), -1), (int(VOTER["id"]), 1)]

    run(scenario())


def test_still_need_help_pings_only_the_helper_role_and_only_once(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine, make_bot_settings(helper_role_id=HELPERS_ROLE)) as (fake, bot):
            answered = await post_answer(fake, bot, ANSWERED)
            assert labels(answered) == ["Helpful", "Not helpful", "Still need help?"]
            unanswered = await post_answer(fake, bot, UNANSWERED)
            assert labels(unanswered) == ["Still need help?"]

            helped = await fake.click(answered, ASKER, label="Still need help?")
            await fake.until(lambda: len(helped.replies) >= 2, what="the ping and the private thanks")
            ping, thanks = helped.replies
            assert ping["content"].startswith(f"<@&{HELPERS_ROLE}>: <@{ASKER['id']}> still needs help")
            assert not int(ping.get("flags") or 0) & EPHEMERAL  # helpers must see it
            assert ping["allowed_mentions"] == {"parse": [], "roles": [HELPERS_ROLE]}  # no users, no @everyone
            assert thanks["content"] == HELP_SENT and int(thanks["flags"]) & EPHEMERAL
            again = await press(fake, answered, "Still need help?", ASKER)
            assert private_text(again) == HELP_AGAIN and len(again.replies) == 1
            # Every other message the bot sent pinged no one.
            for payload in fake.sent_payloads():
                if payload is not ping:
                    check_payload(payload)
            down = await press(fake, answered, "Not helpful", VOTER)
            assert "Still need help?" in private_text(down)  # the thanks for a 👎 points at the button

    run(scenario())


def test_buttons_work_after_a_restart(engine: Engine) -> None:
    async def scenario() -> None:
        settings = make_bot_settings(store_questions=True)
        async with discord_session(engine, settings) as (fake, bot):
            answered = await post_answer(fake, bot, ANSWERED)
        async with discord_session(engine, settings) as (fake, bot):  # a new process would see the same
            down = await press(fake, answered, "Not helpful", VOTER)
            assert private_text(down) == THANKS_DOWN
            assert "asked once: 1 👎" in (await gaps(fake)).replies[-1]["embeds"][0]["description"]

    run(scenario())


def test_questions_are_not_stored_unless_allowed(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine) as (fake, bot):
            assert bot.settings.store_questions is False  # the default
            answered = await post_answer(fake, bot, ANSWERED)
            await post_answer(fake, bot, UNANSWERED)
            await press(fake, answered, "Not helpful", VOTER)
            text = (await gaps(fake)).replies[-1]["embeds"][0]["description"]
            assert NOT_STORED in text and ANSWERED not in text and UNANSWERED not in text
            assert "answers from tea.md" in text
            with sqlite3.connect(bot.feedback.path) as con:
                rows = con.execute("SELECT question, cited, abstained, user_id, generation FROM answers").fetchall()
        assert {(q, a) for q, _, a, _, _ in rows} == {(None, 0), (None, 1)}
        cited = next(json.loads(c) for _, c, a, _, _ in rows if not a)
        assert cited[0]["source"] == "tea.md" and cited[0]["line"] == 3
        assert {u for *_, u, _ in rows} == {int(ASKER["id"])} and {g for *_, g in rows} == {1}

    run(scenario())


def test_gaps_is_for_admins_and_hidden_from_members(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine) as (fake, _bot):
            command, _ = fake.command("gaps")
            assert int(command["default_member_permissions"]) == MANAGE_GUILD  # Discord hides it from members
            refused = await fake.slash("gaps", {}, VOTER)
            await fake.until(lambda: refused.replies, what="the refusal")
            text = private_text(refused)
            assert "Manage Server" in text and "gaps report" in text
            librarian = await fake.slash("gaps", {}, VOTER, roles=[FakeDiscord.LIBRARIAN_ROLE_ID])
            await fake.until(lambda: librarian.replies, what="the report for an admin role")
            assert "No gaps recorded" in private_text(librarian)

    run(scenario())


def test_gaps_exports_csv_and_json(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine, make_bot_settings(store_questions=True)) as (fake, bot):
            for _ in range(2):
                await post_answer(fake, bot, UNANSWERED)
            await post_answer(fake, bot, "the airspeed velocity of a swallow?")
            answered = await post_answer(fake, bot, ANSWERED)
            await press(fake, answered, "Not helpful", VOTER)
            report = await gaps(fake, export="csv", days=7)
            assert report.replies[-1]["embeds"][0]["footer"]["text"] == "Last 7 day(s)"
            name, data = fake.files[-1]
            assert name == "citebot-gaps.csv"
            rows = list(csv.DictReader(io.StringIO(data.decode())))
            assert [(r["count"], r["abstained"], r["downvotes"]) for r in rows] == [("3", "3", "0"), ("1", "0", "1")]
            await gaps(fake, export="json", top=1)
            name, data = fake.files[-1]
            assert name == "citebot-gaps.json" and len(json.loads(data)["groups"]) == 2  # the file has them all

    run(scenario())


def test_forget_me_deletes_a_members_data(engine: Engine) -> None:
    async def scenario() -> None:
        async with discord_session(engine, make_bot_settings(store_questions=True)) as (fake, bot):
            mine = await post_answer(fake, bot, ANSWERED, asker=VOTER)
            await post_answer(fake, bot, UNANSWERED, asker=VOTER)
            theirs = await post_answer(fake, bot, ANSWERED, asker=ASKER)
            await press(fake, theirs, "Not helpful", VOTER)
            forget = await fake.slash("forget-me", {}, VOTER)
            await fake.until(lambda: forget.replies, what="the /forget-me reply")
            assert private_text(forget).startswith("Done: I deleted 2 answer(s) to your questions and 1 of your vote")
            assert "No gaps recorded" in private_text(await gaps(fake))
            assert private_text(await press(fake, mine, "Not helpful", ASKER)) == UNKNOWN_ANSWER
            await settled()

    run(scenario())


def test_ask_answers_carry_the_buttons_and_a_downvote_reaches_gaps(engine: Engine) -> None:
    """The whole path as members use it: /ask, 👎 on the public answer, then an admin's /gaps."""
    async def scenario() -> None:
        settings = make_bot_settings(store_questions=True, helper_role_id=HELPERS_ROLE)
        async with discord_session(engine, settings) as (fake, _bot):
            ask = await fake.slash("ask", {"question": ANSWERED}, ASKER)
            await fake.until(lambda: ask.followups, what="the answer")
            answer = ask.messages[-1]
            assert labels(answer)[0] == "Show passage"
            assert labels(answer)[1:] == ["Helpful", "Not helpful", "Still need help?"]
            assert private_text(await press(fake, answer, "Not helpful", VOTER)).startswith(THANKS_DOWN)
            unanswered = await fake.slash("ask", {"question": UNANSWERED}, ASKER)
            await fake.until(lambda: unanswered.followups, what="the no-answer reply")
            text = (await gaps(fake)).replies[-1]["embeds"][0]["description"]
            assert f"**1. {ANSWERED}**" in text or f"**2. {ANSWERED}**" in text
            assert "1 👎" in text and UNANSWERED in text and "1 unanswered" in text

    run(scenario())


def test_without_a_usable_database_answers_come_without_buttons(engine: Engine, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("not a folder", encoding="utf-8")
    async def scenario() -> None:
        settings = make_bot_settings(db_path=not_a_folder / "bot.sqlite3", helper_role_id=HELPERS_ROLE)
        async with discord_session(engine, settings) as (fake, bot):
            assert not bot.feedback.available
            answered = await post_answer(fake, bot, ANSWERED)
            assert answered["components"] == []
            ask = await fake.slash("ask", {"question": ANSWERED}, ASKER)
            await fake.until(lambda: ask.followups, what="the answer")
            assert labels(ask.messages[-1]) == ["Show passage"]
            report = await fake.slash("gaps", {}, ADMIN, permissions=ADMIN_PERMISSIONS)
            await fake.until(lambda: report.replies, what="the /gaps reply")
            assert private_text(report) == FEEDBACK_OFF

    with caplog.at_level(logging.WARNING, logger="citebot.bot.feedback"):
        run(scenario())
    assert any("feedback is off: cannot open the bot database" in r.getMessage() for r in caplog.records)


def test_the_gaps_embed_fits_discord_and_keeps_its_notes() -> None:
    long = [GapGroup(f"{i} " + "why does the very long question go on " * 10, count=25 - i, abstained=1,
                     last_asked=1_780_000_000.0, sources=[f"docs/section_{i}/page.md", "b.md", "c.md", "d.md"])
            for i in range(25)]
    hostile = GapGroup("@everyone **bold** <@&1> `tick`", count=1, sources=["we`ird.md"])
    unstored = GapGroup(None, count=1, abstained=1)
    embed = gaps_embed([*long, hostile, unstored], 40, days=None).to_dict()
    check_payload({"embeds": [embed], "allowed_mentions": {"parse": []}})
    text = embed["description"]
    shown = len(re.findall(r"^\*\*\d+\. ", text, re.M))
    assert 1 <= shown < 25 and text.endswith(f"{40 - shown} more group(s): raise `top`, or attach the whole report "
                                             "with `export`.")
    assert NOT_STORED in text  # the note about unstored questions survives the cut
    assert "`docs/section_0/page.md`" in text and "d.md" not in text  # three sources, as code, not escaped

    small = gaps_embed([hostile, unstored], 2, days=7).to_dict()
    assert "@\u200beveryone" in small["description"] and "\\*\\*bold\\*\\*" in small["description"]
    assert "`weˋird.md`" in small["description"] and "more group" not in small["description"]
    assert small["footer"]["text"] == "Last 7 day(s)"

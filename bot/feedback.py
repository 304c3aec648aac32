"""Feedback under answers: 👍 / 👎 and "Still need help?", recorded in the bot's database for the gaps report.

- ``answer_items(bot, answer, guild_id=, channel_id=, user_id=)`` records an answer and returns the buttons its
  reply carries (the ask cog adds them to the answer's view, next to Show passage).
- ``record_abstained(bot, question, guild_id=, channel_id=, user_id=)`` records a question the bot could not
  answer (what the gaps report is most about) and returns the items a no-answer reply may carry: "Still need
  help?" when the guild has a helper role, else none.
- The buttons are dynamic items (routed by custom id, like Show passage), so they work on answers given before a
  restart: the answer's id is in the custom id and everything else is in the database.

The question's text is stored only with ``CITEBOT_BOT_STORE_QUESTIONS``; the rest (ids, cited lines, the index
generation, abstention and relevance) always. Every database call runs in one worker thread of its own (SQLite
serialises writes anyway), never on the event loop and never queued behind the searches' threads.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import re
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import discord

from citebot.index import Answer, AnswerRecord, Database, DatabaseProblem, Engine, new_answer_id

from .asking import Cooldowns, Throttled
from .render import NO_MENTIONS
from .replies import report_error

if TYPE_CHECKING:
    from .client import CitebotBot

log = logging.getLogger(__name__)
T = TypeVar("T")

ANSWER_ID = r"(?P<answer>[0-9a-f]{16})"  # feedback.new_answer_id(): 8 random bytes in hex
VOTE_ID = rf"citebot:vote:{ANSWER_ID}:(?P<vote>up|down)"
HELP_ID = rf"citebot:help:{ANSWER_ID}"
# A member's "Still need help?" pings the helper role at most once in this many seconds, however many answers
# they press it under: helpers are people, and one ping already brings one to the channel. Chosen, not measured.
HELP_PING_SECONDS = 300.0

THANKS_UP = "Thanks! Glad it helped."
THANKS_DOWN = "Thanks for telling me: the server's admins see answers like this one in `/gaps`."
HELP_OFFER = " If you still need an answer, press **Still need help?** to ask a helper."
SAME_VOTE = "You already voted {vote} on this answer."
CHANGED_VOTE = "Changed your vote to {vote}."
UNKNOWN_ANSWER = "I no longer have a record of this answer (it may have been deleted on request): nothing was counted."
FEEDBACK_OFF = "Feedback isn't being recorded right now; the bot's admins have been told in its log."
NO_HELPER = "This server has no helper role set up, so I can't call anyone: ask in the channel."
HELP_SENT = "I've asked the helpers; someone will answer here."
HELP_AGAIN = "You already asked for help with this answer: the helpers have been told."
HELP_SOON = "You asked the helpers a moment ago: they have been told, and will see this one too."
EMOJI = {1: "👍", -1: "👎"}


class Feedback:
    """The bot's database and the one worker thread that uses it; ``available`` False when it could not open."""

    def __init__(self, path: Path, store_questions: bool) -> None:
        self.path = path
        self.store_questions = store_questions
        self.database: Database | None = None
        self.help_pings = Cooldowns(1, HELP_PING_SECONDS)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citebot-db")

    @property
    def available(self) -> bool:
        return self.database is not None

    async def open(self) -> None:
        """Open the database, or log why not: the bot then answers without feedback buttons."""
        try:
            self.database = await self.run(Database, self.path)
        except DatabaseProblem as exc:
            log.warning("feedback is off: %s", exc)
        else:
            log.info("feedback database: %s (question text %s)", self.path,
                     "stored" if self.store_questions else "not stored")

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in the database thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, functools.partial(function, *args))

    def submit(self, function: Callable[..., object], *args: Any) -> None:
        """Run ``function(*args)`` in the database thread without waiting; a failure is logged, not raised."""
        self._thread.submit(function, *args).add_done_callback(_log_failure)

    def close(self) -> None:
        """Finish the queued writes, then close the file (``open`` opens it again, e.g. when the extension is
        reloaded)."""
        self._thread.shutdown(wait=True)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citebot-db")
        if self.database is not None:
            self.database.close()
            self.database = None


def _log_failure(future: Any) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("could not record feedback: %s", exc, exc_info=exc if not isinstance(exc, sqlite3.Error) else None)


def _generation(engine: Engine) -> int:
    """The committed generation the engine answers from (0 when unknown): a stat, the manifest read only after
    a commit it has not seen, which the question it just answered has already read."""
    try:
        manifest = engine.commits.latest().manifest
    except Exception:  # noqa: BLE001 - a damaged or missing index: the answer is still worth recording
        return 0
    return manifest.generation if manifest else 0


def _save(database: Database, engine: Engine, record: AnswerRecord) -> None:
    database.record_answer(dataclasses.replace(record, generation=_generation(engine)))


def _record(bot: CitebotBot, answer: Answer, question: str, guild_id: int | None, channel_id: int | None,
            user_id: int) -> str | None:
    """Queue the answer's record; its id, or None when feedback is off (or recording failed: the answer is sent
    without feedback buttons rather than not at all)."""
    feedback = bot.feedback
    database = feedback.database
    if database is None:
        return None
    try:
        record = AnswerRecord(
            new_answer_id(), guild_id, channel_id, user_id, question if feedback.store_questions else None,
            AnswerRecord.cite(answer.hits[: bot.settings.max_sources]), 0, answer.abstained, answer.relevance,
            time.time(),
        )
        feedback.submit(_save, database, bot.engine_for(guild_id), record)
    except Exception:  # noqa: BLE001 - e.g. the database thread stopped at shutdown; logged with its context
        log.exception("could not record an answer (guild=%s channel=%s user=%s)", guild_id, channel_id, user_id)
        return None
    return record.id


def helper_role(bot: CitebotBot, guild_id: int | None) -> int | None:
    """The role "Still need help?" pings in this guild (``/config``, else ``CITEBOT_BOT_HELPER_ROLE_ID``)."""
    return bot.guild_settings.get(guild_id).helper_role_id if guild_id is not None else None


def answer_items(
    bot: CitebotBot, answer: Answer, *, guild_id: int | None, channel_id: int | None, user_id: int
) -> list[discord.ui.Item[Any]]:
    """Record ``answer`` and return its buttons: 👍, 👎, and "Still need help?" when the guild has a helper role.

    Cheap on the event loop: the record is written in the database thread.
    """
    if answer.abstained:
        return record_abstained(bot, answer, guild_id=guild_id, channel_id=channel_id, user_id=user_id)
    answer_id = _record(bot, answer, answer.question, guild_id, channel_id, user_id)
    if answer_id is None:
        return []
    items: list[discord.ui.Item[Any]] = [VoteButton(answer_id, 1), VoteButton(answer_id, -1)]
    if helper_role(bot, guild_id) is not None:
        items.append(HelpButton(answer_id))
    return items


def record_abstained(
    bot: CitebotBot, question: str | Answer, *, guild_id: int | None, channel_id: int | None, user_id: int
) -> list[discord.ui.Item[Any]]:
    """Record a question the bot found no answer to (``question``: its text, or the abstained ``Answer``), and
    return what its no-answer reply may carry: "Still need help?" when the guild has a helper role."""
    answer = question if isinstance(question, Answer) else Answer(question, [])
    answer_id = _record(bot, answer, answer.question, guild_id, channel_id, user_id)
    if answer_id is None or helper_role(bot, guild_id) is None:
        return []
    return [HelpButton(answer_id)]


class VoteButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=VOTE_ID):
    """👍 or 👎 under an answer: one vote per member per answer; pressing the other one changes it."""

    def __init__(self, answer_id: str, vote: int) -> None:
        label, name = ("Helpful", "up") if vote > 0 else ("Not helpful", "down")
        super().__init__(discord.ui.Button(
            label=label, emoji=EMOJI[vote], style=discord.ButtonStyle.secondary,
            custom_id=f"citebot:vote:{answer_id}:{name}",
        ))
        self.answer_id = answer_id
        self.vote = vote

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> VoteButton:
        return cls(match["answer"], 1 if match["vote"] == "up" else -1)

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = cast("CitebotBot", interaction.client)
        try:
            database = bot.feedback.database
            if database is None:
                text = FEEDBACK_OFF
            else:
                result = await bot.feedback.run(database.record_vote, self.answer_id, interaction.user.id, self.vote)
                text = vote_reply(self.vote, result.known, result.previous,
                                  helper_role(bot, interaction.guild_id) is not None)
                log.info("vote %+d recorded (answer=%s user=%s)", self.vote, self.answer_id, interaction.user.id)
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        except Exception as exc:  # noqa: BLE001 - the member gets an apology, the log gets the details
            await report_error(interaction, exc)


def vote_reply(vote: int, known: bool, previous: int | None, helpers: bool) -> str:
    """The private thanks for a vote: what changed, and (after a 👎) where to turn next."""
    if not known:
        return UNKNOWN_ANSWER
    if previous == vote:
        return SAME_VOTE.format(vote=EMOJI[vote])
    if previous is not None:
        return CHANGED_VOTE.format(vote=EMOJI[vote])
    return THANKS_UP if vote > 0 else THANKS_DOWN + (HELP_OFFER if helpers else "")


class HelpButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=HELP_ID):
    """"Still need help?": pings the guild's helper role, only from this press and only that role."""

    def __init__(self, answer_id: str) -> None:
        super().__init__(discord.ui.Button(
            label="Still need help?", emoji="🙋", style=discord.ButtonStyle.secondary,
            custom_id=f"citebot:help:{answer_id}",
        ))
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> HelpButton:
        return cls(match["answer"])

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = cast("CitebotBot", interaction.client)
        try:
            await self._ask_helpers(bot, interaction)
        except Exception as exc:  # noqa: BLE001 - the member gets an apology, the log gets the details
            await report_error(interaction, exc)

    async def _ask_helpers(self, bot: CitebotBot, interaction: discord.Interaction) -> None:
        role_id = helper_role(bot, interaction.guild_id)
        if role_id is None:  # the button outlived the guild's helper role (changed with /config)
            await interaction.response.send_message(NO_HELPER, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        database = bot.feedback.database
        first = True
        if database is not None:  # recorded for the gaps report; a missing record does not stop the ping
            first = await bot.feedback.run(database.record_help, self.answer_id, interaction.user.id) is not False
        if not first:
            await interaction.response.send_message(HELP_AGAIN, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        try:
            bot.feedback.help_pings.hit(interaction.user.id)
        except Throttled:
            await interaction.response.send_message(HELP_SOON, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        where = f" with [this answer]({interaction.message.jump_url})" if interaction.message else ""
        await interaction.response.send_message(
            f"<@&{role_id}>: {interaction.user.mention} still needs help{where}.",
            allowed_mentions=helper_ping(role_id),
        )
        log.info("helpers asked (answer=%s user=%s guild=%s)", self.answer_id, interaction.user.id,
                 interaction.guild_id)
        await interaction.followup.send(HELP_SENT, ephemeral=True, allowed_mentions=NO_MENTIONS)


def helper_ping(role_id: int) -> discord.AllowedMentions:
    """Mentions allowed in the one message that pings: the helper role, nobody else (not even the member)."""
    return discord.AllowedMentions(everyone=False, users=False, roles=[discord.Object(id=role_id)],
                                   replied_user=False)

"""Questions: ``/ask``, mentions of the bot (or its role), ask-channels, threads, replies, DMs; "Show passage".

Who is answered (see docs/bot.md, "Conversations" and "Ask-channels"):
- a mention of the bot or of its managed role, anywhere the bot reads;
- in an ask-channel (or a thread inside one), a message that looks like a question (``etiquette``);
- in a thread the bot started, and in a reply to one of its answers, any message but small talk: these are
  follow-ups, answered with the conversation as context (``citebot.index.followup``);
- a DM, as ``CITEBOT_BOT_DM_POLICY`` says.
Messages addressed to other people (mentioning someone else, replying to another member) and small talk get
nothing and do not count toward the cooldown. Refusals and errors are private: a reply that deletes itself
(or a reaction), never a server path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any, Literal, cast

import discord
from discord import app_commands
from discord.ext import commands

from citebot.index import MAX_QUESTION_CHARS, Answer, CitebotError, Hit
from citebot.index.followup import FollowUp, Turn, answer_followup

from .. import feedback
from ..asking import ANSWER_KEY_BYTES, Refused, Throttled, strip_mentions
from ..conversation import citations, is_answer, referenced_message, thread_turns, turns_of, with_full_paths
from ..etiquette import is_small_talk, looks_like_question
from ..render import (
    APOLOGY,
    LIMITS,
    NO_ANSWER,
    NO_MENTIONS,
    SUM_CHARS,
    answer_embed,
    fingerprint,
    full_paths,
    not_found_line,
    passage_embeds,
    trim,
)
from ..replies import log_problem, report_error, user_message

if TYPE_CHECKING:
    from ..client import CitebotBot

log = logging.getLogger(__name__)

FORGOTTEN = "I can't find the sources of this answer any more. Ask the question again to see its passages."
CHANGED = "The cited file changed since this answer: these are the lines there now."
GONE = "The cited passages are no longer in the documents (they changed since this answer): ask again."
DM_REDIRECT = "I answer questions in servers, not in DMs: mention me or use /ask in a server we share."
THREAD_NAME_CHARS = 100  # Discord's limit for a thread name
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440  # a conversation thread hides itself after a day without messages
THROTTLED_EMOJI = "⏳"  # the reaction that stands for a notice when CITEBOT_BOT_NOTICE_SECONDS is 0
PROBLEM_EMOJI = "⚠️"

# The key is AnswerCache's, in hex; then, optionally, one fingerprint per cited source (render.fingerprint), so
# that Show passage after a restart can tell whether the file changed. 16 + 10 x 6 characters stay inside the
# 100 Discord allows a custom id.
PASSAGE_ID = (
    rf"citebot:passage:(?P<key>[0-9a-f]{{{ANSWER_KEY_BYTES * 2}}})(?::(?P<sums>(?:[0-9a-f]{{{SUM_CHARS}}})*))?"
)


class PassageButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=PASSAGE_ID):
    """Shows whoever presses it the cited passages, ephemerally.

    A dynamic item: clicks are routed by custom id. While the answer is in the cache its passages are shown as
    they were; after a restart (or once it left the cache) they are looked up again from the citations in the
    answer's own embed, and a changed file is said so.
    """

    def __init__(self, key: str, sums: str = "") -> None:
        custom_id = f"citebot:passage:{key}" + (f":{sums}" if sums else "")
        super().__init__(
            discord.ui.Button(label="Show passage", style=discord.ButtonStyle.secondary, custom_id=custom_id)
        )
        self.key = key
        self.sums = sums

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PassageButton:
        return cls(match["key"], match["sums"] or "")

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = cast("CitebotBot", interaction.client)
        try:
            answer = bot.asker.answers.get(self.key)
            if answer is not None:
                embeds = passage_embeds(answer.hits[: bot.settings.max_sources], bot.settings.source_url_template)
                await interaction.response.send_message(embeds=embeds, ephemeral=True, allowed_mentions=NO_MENTIONS)
                return
            await self._from_embed(bot, interaction)
        except Exception as exc:  # noqa: BLE001 - the member gets an apology, the log gets the details
            await report_error(interaction, exc)

    async def _from_embed(self, bot: CitebotBot, interaction: discord.Interaction) -> None:
        """The passages looked up again by the citations the answer's message shows."""
        cited = citations(interaction.message) if interaction.message else []
        if not cited:
            await interaction.response.send_message(FORGOTTEN, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        engine = bot.engine_for(interaction.guild_id)
        cited = cited[: bot.settings.max_sources]

        def look_up() -> list[Hit | None]:
            # A long path is shown shortened (render.short_path): the file is found again among those indexed.
            paths = full_paths([c.source for c in cited], engine.sources)
            return [engine.passage(p, c.line_start, c.line_end, c.line) if p else None for p, c in zip(paths, cited)]

        found = await bot.asker.run(look_up)
        sums = [self.sums[i : i + SUM_CHARS] for i in range(0, len(self.sums), SUM_CHARS)]
        hits: list[Hit] = []
        changed = False
        for n, (c, hit) in enumerate(zip(cited, found, strict=True)):
            if hit is None:
                changed = True
                continue
            same_lines = (hit.line_start, hit.line_end) == (c.line_start, c.line_end)
            if not same_lines or (n < len(sums) and fingerprint(hit) != sums[n]):
                changed = True
            hits.append(hit)
        if not hits:
            await interaction.response.send_message(GONE, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        embeds = passage_embeds(hits, bot.settings.source_url_template)
        await interaction.response.send_message(CHANGED if changed else None, embeds=embeds, ephemeral=True,
                                                allowed_mentions=NO_MENTIONS)


def answer_reply(
    bot: CitebotBot, answer: Answer, *, guild_id: int | None, channel_id: int | None, user_id: int,
    read_with: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``send``: the cited answer with its buttons, or the plain no-answer line."""
    s = bot.settings
    if answer.abstained:
        reply: dict[str, Any] = {"content": NO_ANSWER, "allowed_mentions": NO_MENTIONS}
        items = feedback.record_abstained(bot, answer, guild_id=guild_id, channel_id=channel_id, user_id=user_id)
        if items:
            reply["view"] = _view(items)
        return reply
    key = bot.asker.answers.put(answer)
    sums = "".join(fingerprint(h) for h in answer.hits[: s.max_sources])
    items = [PassageButton(key, sums), *feedback.answer_items(bot, answer, guild_id=guild_id, channel_id=channel_id,
                                                               user_id=user_id)]
    embed = answer_embed(answer, s.max_sources, s.source_url_template, s.see_also_margin, read_with)
    return {"embed": embed, "view": _view(items), "allowed_mentions": NO_MENTIONS}


def _view(items: list[discord.ui.Item[Any]]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view


def where(message: discord.Message) -> str:
    """Who and where, for log lines: ids only, never message text."""
    return (f"user={message.author.id} guild={message.guild.id if message.guild else None} "
            f"channel={message.channel.id} message={message.id}")


class Ask(commands.Cog):
    """Answer questions however they arrive; the search itself runs in worker threads."""

    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot

    @app_commands.command(name="ask", description="Ask a question about the indexed documents.")
    @app_commands.describe(question="What you want to know, e.g. 'How do I configure the database?'")
    async def ask(
        self, interaction: discord.Interaction, question: app_commands.Range[str, 1, MAX_QUESTION_CHARS]
    ) -> None:
        """Refusals (empty, long, too frequent) are answered before deferring so they stay ephemeral.

        The range only tells Discord's client the limits; ``accept`` enforces them (and the configured maximum).
        """
        accepted = self.bot.asker.accept(interaction.user.id, question)
        await interaction.response.defer(thinking=True)
        answer = await self.bot.asker.answer(self.bot.engine_for(interaction.guild_id), accepted)
        log.info("/ask answered with %d source(s) (user=%s interaction=%s)", len(answer.hits),
                 interaction.user.id, interaction.id)
        await interaction.followup.send(**answer_reply(
            self.bot, answer, guild_id=interaction.guild_id, channel_id=interaction.channel_id,
            user_id=interaction.user.id,
        ))

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Decide whether the message is a question for the bot (see the module's docstring), then answer it."""
        me = self.bot.user
        if me is None or message.author.bot or message.author.id == me.id:
            return
        if message.guild is None:
            await self._direct(message)
            return
        role = message.guild.self_role
        mentioned = any(u.id == me.id for u in message.mentions) or (
            role is not None and any(r.id == role.id for r in message.role_mentions)
        )
        channel = message.channel
        in_thread = isinstance(channel, discord.Thread)
        bot_thread = in_thread and cast(discord.Thread, channel).owner_id == me.id
        ask_ids = set(self.bot.guild_settings.get(message.guild.id).ask_channel_ids)
        in_ask_channel = bool({channel.id, getattr(channel, "parent_id", None)} & ask_ids)
        if not (mentioned or in_ask_channel or bot_thread or message.reference is not None):
            return
        replied = await referenced_message(message) if message.reference is not None else None
        to_bot = replied is not None and replied.author.id == me.id
        if not mentioned:
            if message.reference is not None and not to_bot:
                return  # a reply to another member (or to a message that is gone)
            if message.mention_everyone or message.role_mentions or any(u.id != me.id for u in message.mentions):
                return  # addressed to other people
            if not (in_ask_channel or bot_thread or to_bot):
                return
        text = strip_mentions(message.content, me.id, role.id if role else None)
        addressed = mentioned or to_bot or bot_thread
        bare_mention = mentioned and not text  # told (privately) to ask something
        if not bare_mention and (is_small_talk(text) or (not addressed and not looks_like_question(text))):
            return
        turns: list[Turn] = []
        if replied is not None and is_answer(replied, me.id):
            turns = turns_of(replied)
        elif in_thread:
            turns = await thread_turns(cast(discord.Thread, channel), me.id, self.bot.settings.followup_history,
                                       message)
        await self._answer(message, text, turns, brief=in_ask_channel and not addressed)

    async def _answer(self, message: discord.Message, text: str, turns: list[Turn], brief: bool) -> None:
        """Search (with the conversation when there is one) and reply: an answer in place or in a new thread,
        the no-answer line, or a private notice."""
        asker = self.bot.asker
        guild_id = message.guild.id if message.guild else None
        try:
            question = asker.accept(message.author.id, text)
        except (Refused, Throttled) as exc:
            log.info("refused: %s (%s)", exc, where(message))
            await self._notice(message, str(exc), THROTTLED_EMOJI if isinstance(exc, Throttled) else PROBLEM_EMOJI)
            return
        engine = self.bot.engine_for(guild_id)
        try:
            search = asyncio.ensure_future(asker.run(
                lambda: answer_followup(engine.ask, question, with_full_paths(turns, engine.sources))))
            with contextlib.suppress(discord.HTTPException):  # "citebot is typing…" is a courtesy, not a must
                await message.channel.typing()
            result: FollowUp = await search
            if result.answer.abstained and brief and self.bot.settings.nearest_sections:
                n = self.bot.settings.nearest_sections
                sections = await asker.run(lambda: engine.sections_near(question, n))
                items = feedback.record_abstained(self.bot, result.answer, guild_id=guild_id,
                                                  channel_id=message.channel.id, user_id=message.author.id)
                line: dict[str, Any] = {"content": not_found_line(sections), "allowed_mentions": NO_MENTIONS}
                if items:  # "Still need help?" when the server has a helper role
                    line["view"] = _view(items)
                await self._send(message, line)
                return
        except CitebotError as exc:
            log_problem(exc, where(message))
            await self._notice(message, user_message(exc) or APOLOGY, PROBLEM_EMOJI)
            return
        except Exception:
            log.exception("unexpected error answering a message (%s)", where(message))
            await self._notice(message, APOLOGY, PROBLEM_EMOJI)
            return
        reply = answer_reply(self.bot, result.answer, guild_id=guild_id, channel_id=message.channel.id,
                             user_id=message.author.id, read_with=result.read_with)
        log.info("message answered with %d source(s)%s (%s)", len(result.answer.hits),
                 " as a follow-up" if result.read_with else "", where(message))
        thread_mode = self.bot.guild_settings.get(guild_id).thread_mode if guild_id is not None else False
        threaded = thread_mode and not result.answer.abstained and isinstance(message.channel, discord.TextChannel)
        if not (threaded and await self._in_new_thread(message, question, reply)):
            await self._send(message, reply)

    async def _in_new_thread(self, message: discord.Message, question: str, reply: dict[str, Any]) -> bool:
        """Answer in a thread started from the question; False (answer in place) when Discord refuses it."""
        try:
            thread = await message.create_thread(name=trim(" ".join(question.split()), THREAD_NAME_CHARS),
                                                 auto_archive_duration=THREAD_ARCHIVE_MINUTES)
            await thread.send(**reply)
        except discord.HTTPException as exc:
            log.info("could not answer in a new thread, answering in place (%s): %s", where(message), exc)
            return False
        return True

    async def _send(self, message: discord.Message, reply: dict[str, Any], **extra: Any) -> None:
        try:
            await message.channel.send(reference=message.to_reference(fail_if_not_exists=False), **reply, **extra)
        except discord.HTTPException as exc:
            log.warning("could not reply (%s): %s", where(message), exc)

    async def _notice(self, message: discord.Message, text: str, emoji: str) -> None:
        """A refusal or error for a message: a short reply that deletes itself, or only a reaction."""
        seconds = self.bot.settings.notice_seconds
        if seconds <= 0:
            with contextlib.suppress(discord.HTTPException):
                await message.add_reaction(emoji)
            return
        await self._send(message, {"content": trim(text, LIMITS.content), "allowed_mentions": NO_MENTIONS},
                         delete_after=seconds)

    async def _direct(self, message: discord.Message) -> None:
        """A DM: answered like a mention, told where to ask, or ignored (``CITEBOT_BOT_DM_POLICY``)."""
        policy = self.bot.settings.dm_policy
        text = message.content.strip()
        if policy == "ignore" or is_small_talk(text):
            return
        if policy == "redirect":
            try:
                self.bot.asker.cooldowns.hit(message.author.id)  # one sentence per question, not a flood of them
            except Throttled:
                return
            await self._send(message, {"content": DM_REDIRECT, "allowed_mentions": NO_MENTIONS})
            return
        await self._answer(message, text, [], brief=False)


async def setup(bot: commands.Bot) -> None:
    """Called by ``load_extension``: the cog, and the button's route so clicks on earlier answers still work."""
    bot.add_dynamic_items(PassageButton)
    await bot.add_cog(Ask(cast("CitebotBot", bot)))


async def teardown(bot: commands.Bot) -> None:
    """Called by ``unload_extension`` (after the cog is removed): stop routing clicks to this module's button."""
    bot.remove_dynamic_items(PassageButton)

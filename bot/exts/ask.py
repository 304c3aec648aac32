"""Questions: ``/ask``, mentions of the bot, messages in ask-channels, and the "Show passage" button."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from citebot.index import MAX_QUESTION_CHARS, Answer, CitebotError

from ..asking import ANSWER_KEY_BYTES, Throttled, strip_mentions
from ..render import APOLOGY, LIMITS, NO_ANSWER, NO_MENTIONS, answer_embed, passage_embeds, trim
from ..replies import report_error, user_message

if TYPE_CHECKING:
    from ..client import CitebotBot

log = logging.getLogger(__name__)

FORGOTTEN = (
    "I no longer have that answer in memory (I may have restarted since). Ask the question again to see its passages."
)


PASSAGE_ID = rf"citebot:passage:(?P<key>[0-9a-f]{{{ANSWER_KEY_BYTES * 2}}})"  # the key is AnswerCache's, in hex


class PassageButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=PASSAGE_ID):
    """Shows whoever presses it the cited passages, ephemerally.

    A dynamic item: clicks are routed by custom id, so the button keeps answering (with a clear message once
    the answer has left the cache) for as long as the bot runs, without keeping a view per message.
    """

    def __init__(self, key: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Show passage", style=discord.ButtonStyle.secondary, custom_id=f"citebot:passage:{key}"
            )
        )
        self.key = key

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PassageButton:
        return cls(match["key"])

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = cast("CitebotBot", interaction.client)
        try:
            answer = bot.asker.answers.get(self.key)
            if answer is None:
                await interaction.response.send_message(FORGOTTEN, ephemeral=True, allowed_mentions=NO_MENTIONS)
                return
            embeds = passage_embeds(answer.hits[: bot.settings.max_sources], bot.settings.source_url_template)
            await interaction.response.send_message(embeds=embeds, ephemeral=True, allowed_mentions=NO_MENTIONS)
        except Exception as exc:  # noqa: BLE001 - the member gets an apology, the log gets the details
            await report_error(interaction, exc)


def answer_reply(bot: CitebotBot, answer: Answer) -> dict[str, Any]:
    """Keyword arguments for ``send``: the cited answer with its button, or the plain no-answer line."""
    if answer.abstained:
        return {"content": NO_ANSWER, "allowed_mentions": NO_MENTIONS}
    key = bot.asker.answers.put(answer)
    view = discord.ui.View(timeout=None)
    view.add_item(PassageButton(key))
    embed = answer_embed(answer, bot.settings.max_sources, bot.settings.source_url_template)
    return {"embed": embed, "view": view, "allowed_mentions": NO_MENTIONS}


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
        answer = await self.bot.asker.answer(accepted)
        log.info("/ask answered with %d source(s) (user=%s interaction=%s)", len(answer.hits),
                 interaction.user.id, interaction.id)
        await interaction.followup.send(**answer_reply(self.bot, answer))

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Mentions of the bot, and any message in an ask-channel, are questions; bots are never answered."""
        me = self.bot.user
        if me is None or message.author.bot or message.author.id == me.id:
            return
        mentioned = any(user.id == me.id for user in message.mentions)
        channel_ids = {message.channel.id, getattr(message.channel, "parent_id", None)}
        in_ask_channel = bool(channel_ids & set(self.bot.settings.ask_channel_ids))
        if not (mentioned or in_ask_channel):
            return
        text = strip_mentions(message.content, me.id)
        if not mentioned and not text.strip():
            return  # e.g. only an image posted in an ask-channel: nothing to answer
        reply: dict[str, Any]
        try:
            question = self.bot.asker.accept(message.author.id, text)
            search = asyncio.ensure_future(self.bot.asker.answer(question))
            with contextlib.suppress(discord.HTTPException):  # "citebot is typing…" is a courtesy, not a must
                await message.channel.typing()
            answer = await search
            reply = answer_reply(self.bot, answer)
            log.info("message answered with %d source(s) (user=%s channel=%s message=%s)", len(answer.hits),
                     message.author.id, message.channel.id, message.id)
        except (CitebotError, Throttled) as exc:
            reply = {"content": trim(user_message(exc) or str(exc), LIMITS.content), "allowed_mentions": NO_MENTIONS}
        except Exception:
            log.exception("unexpected error answering a message (user=%s guild=%s channel=%s message=%s)",
                          message.author.id, message.guild.id if message.guild else None, message.channel.id,
                          message.id)
            reply = {"content": APOLOGY, "allowed_mentions": NO_MENTIONS}
        try:
            await message.channel.send(reference=message.to_reference(fail_if_not_exists=False), **reply)
        except discord.HTTPException as exc:
            log.warning("could not reply to message %s in channel %s: %s", message.id, message.channel.id, exc)


async def setup(bot: commands.Bot) -> None:
    """Called by ``load_extension``: the cog, and the button's route so clicks on earlier answers still work."""
    bot.add_dynamic_items(PassageButton)
    await bot.add_cog(Ask(cast("CitebotBot", bot)))


async def teardown(bot: commands.Bot) -> None:
    """Called by ``unload_extension`` (after the cog is removed): stop routing clicks to this module's button."""
    bot.remove_dynamic_items(PassageButton)

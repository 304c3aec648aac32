"""Feedback: the 👍 / 👎 / "Still need help?" buttons' routes, ``/gaps`` (admins) and ``/forget-me`` (members).

``setup`` opens the bot's database (``bot.feedback``) and registers the buttons as dynamic items, so presses on
answers given before a restart are routed here; ``teardown`` removes them and closes the database.
"""

from __future__ import annotations

import io
import json
import logging
import time
from typing import TYPE_CHECKING, Literal, cast

import discord
from discord import app_commands
from discord.ext import commands

from citebot.index import NOT_STORED, GapGroup, counts, describe_unstored, gaps_csv, report_json

from ..feedback import FEEDBACK_OFF, HelpButton, VoteButton
from ..render import LIMITS, NO_MENTIONS, escape, safe_code, short_path, timestamp, trim
from .admin import require_admin

if TYPE_CHECKING:
    from ..client import CitebotBot

log = logging.getLogger(__name__)

GAPS_SHOWN = 10  # groups /gaps lists by default: a screenful; `top` asks for up to MAX_GAPS_SHOWN
MAX_GAPS_SHOWN = 25
QUESTION_CHARS = 200  # a group's question as /gaps shows it (the export has it whole)
SOURCES_SHOWN = 3  # cited files listed under a group in /gaps
NO_GAPS = ("No gaps recorded{since}: no unanswered questions, no unsure answers, no 👎 votes, no requests for help. "
           "Members' votes show up here as they come.")
FORGOTTEN = ("Done: I deleted {answers} answer(s) to your questions and {votes} of your vote(s) or help requests. "
             "New questions and votes are recorded again (the bot's admins decide whether question text is kept).")


async def _gaps_admin(interaction: discord.Interaction) -> bool:
    return require_admin(interaction, "see the gaps report")


def gaps_embed(groups: list[GapGroup], total: int, days: int | None) -> discord.Embed:
    """The top groups, most frequent first, as many as fit whole in one embed; then whether question text is
    stored and how many groups are left (always shown: the groups give way to the notes, not the reverse)."""
    embed = discord.Embed(title="What the documents miss", colour=discord.Colour.orange())
    blocks = [_group_block(number, group) for number, group in enumerate(groups, 1)]
    stored_note = [NOT_STORED] if any(g.question is None for g in groups) else []
    shown = len(blocks)
    while True:
        left = total - shown
        more = [f"{left} more group(s): raise `top`, or attach the whole report with `export`."] if left else []
        text = "\n\n".join(blocks[:shown] + stored_note + more)
        if len(text) <= LIMITS.description or shown <= 1:
            break
        shown -= 1
    embed.description = trim(text, LIMITS.description)
    embed.set_footer(text=f"Last {days} day(s)" if days else "All time")
    return embed


def _group_block(number: int, group: GapGroup) -> str:
    text = group.question if group.question else describe_unstored(group)
    question = escape(trim(text, QUESTION_CHARS))  # members' words and file names: inert, never a ping
    cites = ", ".join(f"`{safe_code(short_path(s))}`" for s in group.sources[:SOURCES_SHOWN])
    return (f"**{number}. {question}**\n{counts(group)}, last {timestamp(group.last_asked)}"
            + (f"\ncites {cites}" if cites else ""))


class Feedback(commands.Cog):
    """``/gaps`` for the guild's index admins, ``/forget-me`` for any member; both answer privately."""

    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot

    @app_commands.command(name="gaps", description="What the documents miss: questions the bot could not answer well.")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(_gaps_admin)
    @app_commands.describe(
        days="Only questions of the last N days (default: all)",
        top=f"How many groups to list (default {GAPS_SHOWN})",
        export="Also attach the whole report as a file",
    )
    async def gaps(
        self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 3650] | None = None,
        top: app_commands.Range[int, 1, MAX_GAPS_SHOWN] = GAPS_SHOWN, export: Literal["csv", "json"] | None = None,
    ) -> None:
        """This guild's abstentions, 👎 and help requests, grouped by similar question, most frequent first."""
        database = self.bot.feedback.database
        if database is None:
            await interaction.response.send_message(FEEDBACK_OFF, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        since = time.time() - days * 86400 if days else None
        unsure_below = self.bot.engine_for(interaction.guild_id).settings.sure_relevance
        groups = await self.bot.feedback.run(database.gaps, interaction.guild_id, since, unsure_below)
        files = []
        if export == "csv":
            files.append(discord.File(io.BytesIO(gaps_csv(groups).encode()), filename="citebot-gaps.csv"))
        elif export == "json":
            data = json.dumps(report_json(groups), ensure_ascii=False, indent=1).encode()
            files.append(discord.File(io.BytesIO(data), filename="citebot-gaps.json"))
        log.info("/gaps: %d group(s) (guild=%s user=%s)", len(groups), interaction.guild_id, interaction.user.id)
        if not groups:
            text = NO_GAPS.format(since=f" in the last {days} day(s)" if days else "")
            await interaction.followup.send(text, files=files, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        embed = gaps_embed(groups[:top], len(groups), days)
        await interaction.followup.send(embed=embed, files=files, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="forget-me", description="Delete what this bot stored about you: your questions "
                          "and your votes.")
    async def forget_me(self, interaction: discord.Interaction) -> None:
        """Deletes across every server: the member's data is theirs, not a guild's."""
        database = self.bot.feedback.database
        if database is None:
            await interaction.response.send_message(FEEDBACK_OFF, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        forgotten = await self.bot.feedback.run(database.forget_user, interaction.user.id)
        log.info("/forget-me: %s (user=%s)", forgotten.summary(), interaction.user.id)
        await interaction.response.send_message(
            FORGOTTEN.format(answers=forgotten.answers, votes=forgotten.votes), ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )


async def setup(bot: commands.Bot) -> None:
    """Open the database, route the buttons' presses here (answers from before a restart too), add the cog."""
    citebot = cast("CitebotBot", bot)
    await citebot.feedback.open()
    bot.add_dynamic_items(VoteButton, HelpButton)
    await bot.add_cog(Feedback(citebot))


async def teardown(bot: commands.Bot) -> None:
    """Stop routing presses to this module's buttons, then finish the queued writes and close the database."""
    bot.remove_dynamic_items(VoteButton, HelpButton)
    cast("CitebotBot", bot).feedback.close()

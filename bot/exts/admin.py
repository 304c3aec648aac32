"""``/reindex``: an admin re-reads the documents in the background while the current index keeps answering."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands
from discord.ext import commands

from citebot.index import CitebotError, IndexReport

from ..reindexing import ReindexJob, ReindexRunning
from ..render import LIMITS, NO_MENTIONS, timestamp, trim
from ..replies import context

if TYPE_CHECKING:
    from ..client import CitebotBot

log = logging.getLogger(__name__)

# Skipped files listed one a line in the summary; the rest are counted. Ten lines of path and reason stay
# well inside Discord's 2,000-character message (trim() cuts the rest) and the CLI lists them all.
SKIPPED_SHOWN = 10


class NotIndexAdmin(app_commands.CheckFailure):
    """The member lacks Manage Server and every configured admin role."""


def is_index_admin(member: discord.abc.User, permissions: discord.Permissions, admin_roles: list[str]) -> bool:
    """Manage Server, or a role whose name or id is listed in the ``admin_roles`` setting."""
    if permissions.manage_guild:
        return True
    wanted = {r.strip().lower() for r in admin_roles}
    roles = getattr(member, "roles", [])
    return any(role.name.lower() in wanted or str(role.id) in wanted for role in roles)


async def _admin_check(interaction: discord.Interaction) -> bool:
    settings = cast("CitebotBot", interaction.client).settings
    if is_index_admin(interaction.user, interaction.permissions, settings.admin_roles):
        return True
    roles = ", ".join(settings.admin_roles)
    raise NotIndexAdmin(
        "Only members with the Manage Server permission" + (f" or a role among: {roles}" if roles else "")
        + " can re-index the documents."
    )


def summary_text(report: IndexReport, folder: str) -> str:
    """The finished reply: the counts, then skipped files (trimmed to Discord's content limit)."""
    lines = [f"Re-index of `{folder}` finished: {report.summary()}."]
    for skipped in report.skipped[:SKIPPED_SHOWN]:
        lines.append(f"• skipped `{skipped.source.replace('`', 'ˋ')}`: {skipped.reason}")
    if len(report.skipped) > SKIPPED_SHOWN:
        lines.append(f"• … and {len(report.skipped) - SKIPPED_SHOWN} more skipped (see `citebot index` output)")
    return trim("\n".join(lines), LIMITS.content)


class Admin(commands.Cog):
    """``/reindex``: drives the bot's ``Reindexer`` and reports its progress and summary in the channel."""

    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot

    @app_commands.command(name="reindex", description="Re-read the documents and update the index (admins only).")
    @app_commands.guild_only()
    @app_commands.check(_admin_check)
    async def reindex(self, interaction: discord.Interaction) -> None:
        """Claim the job before the first await, so two quick /reindex cannot both start."""
        reindexer = self.bot.reindexer
        try:
            job = reindexer.claim(interaction.user.id)
        except ReindexRunning as busy:
            await interaction.response.send_message(
                f"A re-index started by <@{busy.job.user_id}> {timestamp(busy.job.started)} is still running "
                f"({busy.job.describe()}). Try again when it ends.",
                ephemeral=True, allowed_mentions=NO_MENTIONS,
            )
            return
        folder = str(self.bot.index_settings.docs_dir)
        try:
            await interaction.response.send_message(
                f"Re-indexing `{folder}`… questions are still answered from the current index meanwhile.",
                allowed_mentions=NO_MENTIONS,
            )
        except BaseException:
            reindexer.release(job)
            raise
        log.info("re-index started (%s)", context(interaction))
        work = reindexer.start(job)
        self.bot.spawn(self._report(interaction, job, work, folder), "reindex")

    async def _report(
        self, interaction: discord.Interaction, job: ReindexJob, work: asyncio.Future[IndexReport], folder: str
    ) -> None:
        """Edit the reply with progress every few seconds while the worker thread indexes, then with the summary."""
        shown = job.progress
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=self.bot.settings.reindex_progress_seconds)
                if not work.done() and job.progress != shown:
                    shown = job.progress
                    await self._edit(interaction, f"Re-indexing `{folder}`… {job.describe()}")
            report = work.result()
            text = summary_text(report, folder)
            log.info("re-index finished: %s (%s)", report.summary(), context(interaction))
        except CitebotError as exc:
            text = f"Re-index of `{folder}` not done: {exc}"
            log.warning("re-index refused: %s (%s)", exc, context(interaction))
        except asyncio.CancelledError:
            log.info("re-index reporting stopped by shutdown; the worker thread finishes or dies with the process")
            raise
        except Exception:
            log.exception("re-index failed (%s)", context(interaction))
            text = f"Re-index of `{folder}` failed with an unexpected error; the previous index still answers."
        if not await self._edit(interaction, text):
            channel = interaction.channel
            if isinstance(channel, discord.abc.Messageable):
                try:
                    await channel.send(text, allowed_mentions=NO_MENTIONS)
                except discord.HTTPException as exc:
                    log.warning("could not post the re-index summary: %s", exc)

    async def _edit(self, interaction: discord.Interaction, text: str) -> bool:
        """Edit the /reindex reply; False when Discord refuses (e.g. its 15-minute token expired)."""
        try:
            await interaction.edit_original_response(content=trim(text, LIMITS.content), allowed_mentions=NO_MENTIONS)
            return True
        except discord.HTTPException as exc:
            log.warning("could not edit the re-index reply (%s): %s", context(interaction), exc)
            return False


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Admin(cast("CitebotBot", bot)))

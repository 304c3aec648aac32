"""``/reindex``: an admin re-reads the documents in the background while the current index keeps answering."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands
from discord.ext import commands

from citebot.index import CitebotError, IndexReport

from ..render import LIMITS, NO_MENTIONS, timestamp, trim
from ..replies import context

if TYPE_CHECKING:
    from ..client import CitebotBot

log = logging.getLogger(__name__)

STAGES = {"chunk": "reading and chunking changed files", "embed": "embedding new passages"}


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


@dataclass
class ReindexJob:
    """One running re-index: who started it, and the latest progress reported by the worker thread."""

    user_id: int
    started: float = field(default_factory=time.time)
    progress: tuple[str, int, int] | None = None
    task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.task is None or not self.task.done()

    def describe(self) -> str:
        if self.progress is None:
            return "starting…"
        stage, done, total = self.progress
        return f"{STAGES.get(stage, stage)}: {done:,}/{total:,}"


def summary_text(report: IndexReport, folder: str) -> str:
    """The finished reply: the counts, then skipped files (trimmed to Discord's content limit)."""
    lines = [f"Re-index of `{folder}` finished: {report.summary()}."]
    for skipped in report.skipped[:10]:
        lines.append(f"• skipped `{skipped.source.replace('`', 'ˋ')}`: {skipped.reason}")
    if len(report.skipped) > 10:
        lines.append(f"• … and {len(report.skipped) - 10} more skipped (see `citebot index` output)")
    return trim("\n".join(lines), LIMITS.content)


class Admin(commands.Cog):
    """Owns the one re-index a bot may run at a time."""

    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot
        self.job: ReindexJob | None = None

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    @app_commands.command(name="reindex", description="Re-read the documents and update the index (admins only).")
    @app_commands.guild_only()
    @app_commands.check(_admin_check)
    async def reindex(self, interaction: discord.Interaction) -> None:
        """Check and claim the job before the first await, so two quick /reindex cannot both start."""
        if self.job is not None and self.job.running:
            await interaction.response.send_message(
                f"A re-index started by <@{self.job.user_id}> {timestamp(self.job.started)} is still running "
                f"({self.job.describe()}). Try again when it ends.",
                ephemeral=True, allowed_mentions=NO_MENTIONS,
            )
            return
        job = ReindexJob(interaction.user.id)
        self.job = job
        folder = str(self.bot.index_settings.docs_dir)
        try:
            await interaction.response.send_message(
                f"Re-indexing `{folder}`… questions are still answered from the current index meanwhile.",
                allowed_mentions=NO_MENTIONS,
            )
        except BaseException:
            self.job = None
            raise
        log.info("re-index started (%s)", context(interaction))
        job.task = self.bot.spawn(self._run(interaction, job, folder), "reindex")

    async def _run(self, interaction: discord.Interaction, job: ReindexJob, folder: str) -> None:
        """Index in a worker thread; edit the reply with progress every few seconds, then with the summary."""

        def progress(stage: str, done: int, total: int) -> None:  # called from the worker thread
            job.progress = (stage, done, total)

        work = asyncio.ensure_future(asyncio.to_thread(self.bot.engine.index, None, progress))
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

"""``/reindex``: an admin re-reads the guild's document set in the background while its current index answers.

The public reply names the set, never a folder of the server; the admin who ran it gets the details (set,
folder, full error text) privately. The command carries ``default_member_permissions`` Manage Server, so
Discord hides it from members who lack it (server admins may grant it to a role under Integrations); the
check below enforces it either way, with the guild's admin roles (``/config``) besides.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands
from discord.ext import commands

from citebot.index import CitebotError, IndexReport
from citebot.index.loader import by_reason, group_line

from ..engines import set_label
from ..reindexing import NoFolder, Reindexer, ReindexJob, ReindexRunning, server_folders, without_paths
from ..render import LIMITS, NO_MENTIONS, timestamp, trim
from ..replies import context

if TYPE_CHECKING:
    from ..client import CitebotBot

log = logging.getLogger(__name__)

# Lines of skipped files in the summary; the rest are counted. Ten lines of path and reason stay well inside
# Discord's 2,000-character message (trim() cuts the rest); `citebot index --json` lists every one. More than
# SKIPPED_GROUPED files left out for one reason (a built site's source copies) are one line with a count.
SKIPPED_SHOWN = 10
SKIPPED_GROUPED = 3


class NotIndexAdmin(app_commands.CheckFailure):
    """The member lacks Manage Server and every configured admin role."""


def is_index_admin(member: discord.abc.User, permissions: discord.Permissions, admin_roles: list[str]) -> bool:
    """Manage Server, or a role whose name or id is listed in the ``admin_roles`` setting."""
    if permissions.manage_guild:
        return True
    wanted = {r.strip().lower() for r in admin_roles}
    roles = getattr(member, "roles", [])
    return any(role.name.lower() in wanted or str(role.id) in wanted for role in roles)


def admin_roles_of(interaction: discord.Interaction) -> list[str]:
    """The admin roles of the interaction's guild (``/config``; the bot's default until set)."""
    bot = cast("CitebotBot", interaction.client)
    return bot.guild_settings.get(interaction.guild_id).admin_roles


def require_admin(interaction: discord.Interaction, action: str) -> bool:
    """True for an admin of this guild's index, else ``NotIndexAdmin`` saying who may ``action``."""
    roles = admin_roles_of(interaction)
    if is_index_admin(interaction.user, interaction.permissions, roles):
        return True
    named = ", ".join(roles)
    raise NotIndexAdmin(
        "Only members with the Manage Server permission" + (f" or a role among: {named}" if named else "")
        + f" can {action}."
    )


async def _admin_check(interaction: discord.Interaction) -> bool:
    return require_admin(interaction, "re-index the documents")


def summary_text(report: IndexReport, label: str) -> str:
    """The finished reply: the counts, then skipped files (trimmed to Discord's content limit)."""
    lines = [f"Re-index of {label} finished: {report.summary()}."]
    told = 0  # files the lines below account for
    for reason, sources in by_reason(report.skipped):
        room = SKIPPED_SHOWN - (len(lines) - 1)
        if room <= 0:
            break
        if len(sources) <= SKIPPED_GROUPED:
            lines += [f"• skipped {_code(source)}: {reason}" for source in sources[:room]]
            told += min(len(sources), room)
        else:  # a built site's hundreds of source copies are one line
            lines.append(f"• skipped {group_line(reason, sources, _code)}")
            told += len(sources)
    if len(report.skipped) > told:
        lines.append(f"• … and {len(report.skipped) - told} more skipped (the bot's log lists them)")
    return trim("\n".join(lines), LIMITS.content)


def _code(source: str) -> str:
    return f"`{source.replace('`', 'ˋ')}`"


class Admin(commands.Cog):
    """``/reindex``: drives the bot's ``Reindexer`` and reports its progress and summary in the channel."""

    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot

    @app_commands.command(name="reindex", description="Re-read this server's documents and update the index.")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(_admin_check)
    async def reindex(self, interaction: discord.Interaction) -> None:
        """Claim the job before the first await, so two quick /reindex cannot both start.

        Only the guild's own document set: a guild cannot re-index the set another guild reads (unless both
        chose the same set, which its owner made for them to share).
        """
        name = self.bot.set_of(interaction.guild_id)
        reindexer = self.bot.engines.reindexer(name)
        try:
            job = reindexer.claim(interaction.user.id)
        except ReindexRunning as busy:
            by = "automatically" if busy.job.user_id == 0 else f"by <@{busy.job.user_id}>"
            await interaction.response.send_message(
                f"A re-index started {by} {timestamp(busy.job.started)} is still running "
                f"({busy.job.describe()}). Try again when it ends.",
                ephemeral=True, allowed_mentions=NO_MENTIONS,
            )
            return
        except NoFolder as exc:
            await interaction.response.send_message(
                f"{set_label(name).capitalize()} cannot be re-indexed from Discord: {exc}.",
                ephemeral=True, allowed_mentions=NO_MENTIONS,
            )
            return
        label = set_label(name)
        try:
            await interaction.response.send_message(
                f"Re-indexing {label}… questions are still answered from the current index meanwhile.",
                allowed_mentions=NO_MENTIONS,
            )
        except BaseException:
            reindexer.release(job)
            raise
        log.info("re-index of set %r started (%s)", name, context(interaction))
        work = reindexer.start(job)
        self.bot.spawn(self._report(interaction, job, work, reindexer, name), "reindex")
        folder = reindexer.folder or reindexer.engine.settings.docs_dir
        await self._tell_admin(interaction, f"Document set `{name}`, read from `{folder}`.")

    async def _report(
        self, interaction: discord.Interaction, job: ReindexJob, work: asyncio.Future[IndexReport],
        reindexer: Reindexer, name: str,
    ) -> None:
        """Edit the reply with progress every few seconds while the worker thread indexes, then with the summary."""
        label = set_label(name)
        folders = server_folders(reindexer.engine.settings)
        shown = job.progress
        detail = None
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=self.bot.settings.reindex_progress_seconds)
                if not work.done() and job.progress != shown:
                    shown = job.progress
                    await self._edit(interaction, f"Re-indexing {label}… {job.describe()}")
            report = work.result()
            text = without_paths(summary_text(report, label), folders)
            log.info("re-index finished: %s (%s)", report.summary(), context(interaction))
            for skipped in report.skipped:
                log.info("re-index skipped %s: %s", skipped.source, skipped.reason)
        except CitebotError as exc:
            text = f"Re-index of {label} not done: {without_paths(str(exc), folders)}"
            detail = None if text.endswith(str(exc)) else f"Re-index not done: {exc}"
            log.warning("re-index refused: %s (%s)", exc, context(interaction))
        except asyncio.CancelledError:
            log.info("re-index reporting stopped by shutdown; the worker thread finishes or dies with the process")
            raise
        except Exception:
            log.exception("re-index failed (%s)", context(interaction))
            text = f"Re-index of {label} failed with an unexpected error; the previous index still answers."
        if detail is not None:
            await self._tell_admin(interaction, detail)
        if not await self._edit(interaction, text):
            channel = interaction.channel
            if isinstance(channel, discord.abc.Messageable):
                try:
                    await channel.send(text, allowed_mentions=NO_MENTIONS)
                except discord.HTTPException as exc:
                    log.warning("could not post the re-index summary: %s", exc)

    async def _tell_admin(self, interaction: discord.Interaction, text: str) -> None:
        """A private follow-up for the admin who ran /reindex: the details members must not see (folders)."""
        try:
            await interaction.followup.send(trim(text, LIMITS.content), ephemeral=True, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.info("could not send the re-index details privately (%s): %s", context(interaction), exc)

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

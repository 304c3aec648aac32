"""Replying when something went wrong: one place decides what the member sees.

A refused question (empty, too long, too frequent) and a refused check get their one-line reason. A problem
with the index (nothing indexed, Chroma down, damage) gets a plain sentence without server paths or internal
commands, while the log, and an admin (Manage Server) who meets it in a slash command, get the details.
Anything else is logged with context and gets a short apology. All of it private and mentioning no one.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from citebot.index import CitebotError, IndexBusy, IndexDamaged, IndexMissing, NoSpace, StoreUnavailable

from .asking import Refused, Throttled
from .render import APOLOGY, LIMITS, NO_MENTIONS, trim

log = logging.getLogger(__name__)

# What a member reads for each index problem: no path, host or command of the server, and who acts on it.
MEMBER_MESSAGES: tuple[tuple[type[CitebotError], str], ...] = (
    (IndexMissing, "The documents are not indexed yet; an admin has been told."),
    (StoreUnavailable, "I can't reach the document index right now; an admin has been told. Please try again later."),
    (IndexDamaged, "The document index needs a repair; an admin has been told."),
    (IndexBusy, "The documents are being re-indexed; please try again in a minute."),
    (NoSpace, "The bot's server is out of disk space; an admin has been told."),
)
UNAVAILABLE = "I can't answer from the documents right now; an admin has been told."


def context(interaction: discord.Interaction) -> str:
    """Who and where, for log lines: ids only, never message text or tokens."""
    data: dict[str, Any] = dict(interaction.data or {})
    command = interaction.command.qualified_name if interaction.command else data.get("custom_id")
    return (
        f"command={command} user={interaction.user.id if interaction.user else None} "
        f"guild={interaction.guild_id} channel={interaction.channel_id} interaction={interaction.id}"
    )


async def reply_privately(interaction: discord.Interaction, text: str) -> None:
    """An ephemeral message, whatever state the interaction's response is in."""
    text = trim(text, LIMITS.content)
    if not interaction.response.is_done():
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return
    if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
        # A public "thinking…" placeholder would turn the next follow-up public: remove it first.
        try:
            await interaction.delete_original_response()
        except discord.HTTPException:
            log.debug("could not delete the deferred response (%s)", context(interaction))
    await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


def user_message(error: BaseException, detailed: bool = False) -> str | None:
    """The message a member should see for an expected problem, or None for a bug.

    ``detailed`` (an admin asking): an index problem's own one line, which may name the server's folder or
    host and the command that fixes it; otherwise a plain sentence from ``MEMBER_MESSAGES``.
    """
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, Refused | Throttled):
        return str(error)
    if isinstance(error, CitebotError):
        if not detailed:
            return next((text for kind, text in MEMBER_MESSAGES if isinstance(error, kind)), UNAVAILABLE)
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        return text[:1].upper() + text[1:]
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works only in a server."
    if isinstance(error, app_commands.CheckFailure | app_commands.CommandOnCooldown):
        return str(error) or "You can't use this command here."
    return None


def is_server_admin(interaction: discord.Interaction) -> bool:
    """Manage Server in this channel: the members who may see an index problem's details (paths, commands)."""
    return interaction.guild_id is not None and interaction.permissions.manage_guild


def log_problem(error: BaseException, where: str) -> None:
    """An index problem a member met, in full, for the admins (the member saw a plain sentence)."""
    original = getattr(error, "original", error)
    if isinstance(original, CitebotError) and not isinstance(original, IndexBusy):
        log.warning("index problem: %s (%s)", str(original).splitlines()[0] if str(original) else original, where)


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Answer the member (message or apology) and log unexpected errors with their context."""
    message = user_message(error, detailed=is_server_admin(interaction))
    if message is None:
        original = getattr(error, "original", error)
        log.error("unexpected error (%s)", context(interaction), exc_info=original)
        message = APOLOGY
    else:
        log_problem(error, context(interaction))
        log.info("refused: %s (%s)", message, context(interaction))
    try:
        await reply_privately(interaction, message)
    except discord.HTTPException as exc:
        log.warning("could not tell the member about an error (%s): %s", context(interaction), exc)


class CitebotTree(app_commands.CommandTree):
    """The command tree with the one error handler every slash command shares."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await report_error(interaction, error)

"""Replying to interactions when something went wrong: one place decides what the member sees.

User mistakes (``CitebotError``: an empty or long question, Chroma down, nothing indexed) get their one-line
message; a refused check gets its reason; anything else is logged with context and gets a short apology.
All of it ephemeral and mentioning no one.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from citebot.index import CitebotError

from .asking import Throttled
from .render import APOLOGY, LIMITS, NO_MENTIONS, trim

log = logging.getLogger(__name__)


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


def user_message(error: BaseException) -> str | None:
    """The message a member should see for an expected problem, or None for a bug."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, CitebotError):
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        return text[:1].upper() + text[1:]
    if isinstance(error, Throttled):
        return str(error)
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works only in a server."
    if isinstance(error, app_commands.CheckFailure | app_commands.CommandOnCooldown):
        return str(error) or "You can't use this command here."
    return None


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Answer the member (message or apology) and log unexpected errors with their context."""
    message = user_message(error)
    if message is None:
        original = getattr(error, "original", error)
        log.error("unexpected error (%s)", context(interaction), exc_info=original)
        message = APOLOGY
    else:
        log.info("refused: %s (%s)", message, context(interaction))
    try:
        await reply_privately(interaction, message)
    except discord.HTTPException as exc:
        log.warning("could not tell the member about an error (%s): %s", context(interaction), exc)


class CitebotTree(app_commands.CommandTree):
    """The command tree with the one error handler every slash command shares."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await report_error(interaction, error)

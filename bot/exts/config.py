"""``/config``: a server's admins show and change how citebot works there; stored in the bot's database.

One command with optional options, so every setting is one form away and ``/config`` alone shows them all.
Like ``/reindex`` it carries ``default_member_permissions`` Manage Server (hidden from members) and checks
Manage Server or one of the guild's admin roles. Every reply is ephemeral. A document set is chosen by name
among those the bot's owner configured: a server admin never names a folder.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from ..guilds import GuildConfig
from ..render import LIMITS, NO_MENTIONS, trim
from ..replies import context
from ..settings import DEFAULT_SET
from .admin import require_admin

if TYPE_CHECKING:
    from ..client import CitebotBot

log = logging.getLogger(__name__)

AUTOCOMPLETE_CHOICES = 25  # Discord shows at most 25 autocomplete choices
RESETS = {  # /config reset:<choice> -> the guild settings it gives back to the bot's defaults
    "document set": ("collection",),
    "ask channels": ("ask_channel_ids",),
    "admin roles": ("admin_roles",),
    "threads": ("thread_mode",),
    "helper role": ("helper_role_id",),
    "admin channel": ("admin_channel_id",),
    "everything": (),  # all of them
}


async def _config_check(interaction: discord.Interaction) -> bool:
    return require_admin(interaction, "change citebot's settings in this server")


def describe(bot: CitebotBot, config: GuildConfig, changed: set[str]) -> str:
    """The /config reply: every setting, marked when it follows the bot's default."""

    def mark(key: str) -> str:
        return "" if key in changed else " (default)"

    sets = ", ".join(f"`{n}`" for n in bot.engines.names())
    chosen = bot.engines.resolve(config.collection)
    missing = config.collection is not None and chosen != config.collection
    lines = [
        "**citebot settings for this server**",
        f"• Document set: `{chosen}`{mark('collection')}" + (" (the chosen set is no longer offered)" if missing
                                                            else "") + f"; offered: {sets}",
        "• Ask channels: " + (" ".join(f"<#{c}>" for c in config.ask_channel_ids) or "none") + mark("ask_channel_ids"),
        "• Admin roles: " + (", ".join(_role(r) for r in config.admin_roles) or "none (Manage Server only)")
        + mark("admin_roles"),
        f"• Threads for answers: {'on' if config.thread_mode else 'off'}{mark('thread_mode')}",
        "• Helper role (pinged by “still need help?”): "
        + (f"<@&{config.helper_role_id}>" if config.helper_role_id else "none") + mark("helper_role_id"),
        "• Admin channel (automatic re-index summaries): "
        + (f"<#{config.admin_channel_id}>" if config.admin_channel_id else "none") + mark("admin_channel_id"),
    ]
    return trim("\n".join(lines), LIMITS.content)


def _role(entry: str) -> str:
    """A stored admin role: ids as role mentions (shown, never pinging), names as written."""
    return f"<@&{entry}>" if entry.isdigit() else discord.utils.escape_markdown(entry)


class Config(commands.Cog):
    """``/config``: reads and writes ``bot.guild_settings`` for the interaction's guild."""

    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot

    @app_commands.command(name="config", description="Show or change citebot's settings in this server (admins).")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(_config_check)
    @app_commands.describe(
        document_set="Which documents this server's questions are answered from",
        add_ask_channel="A channel where every question is answered without a mention",
        remove_ask_channel="Stop answering unmentioned questions in this channel",
        add_admin_role="A role allowed to /reindex and /config besides Manage Server",
        remove_admin_role="Remove a role from the admin roles",
        threads="Answer each question in a thread of its own",
        helper_role="The role “still need help?” pings",
        admin_channel="Where automatic re-index summaries are posted",
        reset="Give a setting back to the bot's default",
    )
    @app_commands.choices(reset=[app_commands.Choice(name=n, value=n) for n in RESETS])
    async def config(
        self,
        interaction: discord.Interaction,
        document_set: str | None = None,
        add_ask_channel: discord.TextChannel | None = None,
        remove_ask_channel: discord.TextChannel | None = None,
        add_admin_role: discord.Role | None = None,
        remove_admin_role: discord.Role | None = None,
        threads: bool | None = None,
        helper_role: discord.Role | None = None,
        admin_channel: discord.TextChannel | None = None,
        reset: str | None = None,
    ) -> None:
        guild_id = interaction.guild_id
        if guild_id is None:  # guild_only() keeps DMs out; this keeps the type checker and a stray payload out
            raise app_commands.NoPrivateMessage()
        guilds = self.bot.guild_settings
        current = guilds.get(guild_id)
        changes: dict[str, Any] = {}
        if reset is not None:
            keys = RESETS.get(reset, ()) or tuple(guilds.changed(guild_id))
            changes.update(dict.fromkeys(keys))
        if document_set is not None:
            name = document_set.strip().lower()
            if name not in self.bot.engines.sets:
                offered = ", ".join(f"`{n}`" for n in self.bot.engines.names())
                await interaction.response.send_message(
                    trim(f"There is no document set named `{discord.utils.escape_markdown(name)[:40]}`; "
                         f"this bot offers: {offered}.", LIMITS.content),
                    ephemeral=True, allowed_mentions=NO_MENTIONS)
                return
            changes["collection"] = None if name == DEFAULT_SET else name
        if add_ask_channel is not None or remove_ask_channel is not None:
            channels = [c for c in current.ask_channel_ids if not remove_ask_channel or c != remove_ask_channel.id]
            if add_ask_channel is not None and add_ask_channel.id not in channels:
                channels.append(add_ask_channel.id)
            changes["ask_channel_ids"] = channels
        if add_admin_role is not None or remove_admin_role is not None:
            roles = list(current.admin_roles)
            if remove_admin_role is not None:
                gone = {str(remove_admin_role.id), remove_admin_role.name.lower()}
                roles = [r for r in roles if r.lower() not in gone]
            if add_admin_role is not None and str(add_admin_role.id) not in roles:
                roles.append(str(add_admin_role.id))
            changes["admin_roles"] = roles
        if threads is not None:
            changes["thread_mode"] = threads
        if helper_role is not None:
            changes["helper_role_id"] = helper_role.id
        if admin_channel is not None:
            changes["admin_channel_id"] = admin_channel.id
        if changes:
            await guilds.update(guild_id, by=interaction.user.id, **changes)
            log.info("settings changed: %s (%s)", ", ".join(sorted(changes)), context(interaction))
        text = describe(self.bot, guilds.get(guild_id), guilds.changed(guild_id))
        if changes:
            text = trim("Saved.\n" + text, LIMITS.content)
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @config.autocomplete("document_set")
    async def _sets(self, interaction: discord.Interaction, typed: str) -> list[app_commands.Choice[str]]:
        names = [n for n in self.bot.engines.names() if typed.lower() in n]
        return [app_commands.Choice(name=n, value=n) for n in names[:AUTOCOMPLETE_CHOICES]]


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Config(cast("CitebotBot", bot)))

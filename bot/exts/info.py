"""``/status`` (what is indexed and when) and ``/help`` (what the bot does and how to ask)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands
from discord.ext import commands

from ..render import NO_MENTIONS, help_embed, status_embed

if TYPE_CHECKING:
    from ..client import CitebotBot


def role_name(guild: discord.Guild | None, entry: str) -> str:
    """An admin role as members know it: ``/config`` stores roles by id, the settings may name them."""
    role = guild.get_role(int(entry)) if guild is not None and entry.isdigit() else None
    return role.name if role is not None else entry


class Info(commands.Cog):
    """Read-only commands; both answer ephemerally so they do not clutter the channel."""

    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot

    @app_commands.command(name="status", description="What is indexed: files, chunks, model, when last indexed.")
    async def status(self, interaction: discord.Interaction) -> None:
        """The guild's own document set, without the server folder it was read from (members see this too)."""
        bot = self.bot
        name = bot.set_of(interaction.guild_id)
        stats = await asyncio.to_thread(bot.engines.get(name).stats)
        stats = dataclasses.replace(stats, root="", store="")  # server paths: never shown in Discord
        config = bot.guild_settings.get(interaction.guild_id)
        embed = status_embed(stats, bot.engines.reindexer(name).running, config.ask_channel_ids)
        if len(bot.engines.sets) > 1:
            embed.add_field(name="Document set", value=f"`{name}`")
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="help", description="What this bot does and how to ask it questions.")
    async def help(self, interaction: discord.Interaction) -> None:
        name = self.bot.user.name if self.bot.user else "citebot"
        config = self.bot.guild_settings.get(interaction.guild_id)
        roles = [role_name(interaction.guild, r) for r in config.admin_roles]
        embed = help_embed(name, config.ask_channel_ids, self.bot.settings.max_question_chars, roles)
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Info(cast("CitebotBot", bot)))

"""``/status`` (what is indexed and when) and ``/help`` (what the bot does and how to ask)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands
from discord.ext import commands

from ..render import NO_MENTIONS, help_embed, status_embed

if TYPE_CHECKING:
    from ..client import CitebotBot


class Info(commands.Cog):
    """Read-only commands; both answer ephemerally so they do not clutter the channel."""

    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot

    @app_commands.command(name="status", description="What is indexed: files, chunks, model, when last indexed.")
    async def status(self, interaction: discord.Interaction) -> None:
        stats = await asyncio.to_thread(self.bot.engine.stats)
        embed = status_embed(stats, self.bot.reindexer.running, self.bot.settings.ask_channel_ids)
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="help", description="What this bot does and how to ask it questions.")
    async def help(self, interaction: discord.Interaction) -> None:
        name = self.bot.user.name if self.bot.user else "citebot"
        s = self.bot.settings
        embed = help_embed(name, s.ask_channel_ids, s.max_question_chars, s.admin_roles)
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Info(cast("CitebotBot", bot)))

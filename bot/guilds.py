"""Per-guild settings: which document set a guild reads, its ask-channels, admin roles and thread mode.

Until an admin changes them with ``/config`` (stored in the bot's database), a guild gets the defaults from
``BotSettings``. Other modules read a guild's settings only through ``Guilds.get``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .settings import BotSettings


@dataclass(frozen=True)
class GuildConfig:
    """One guild's settings; ``collection`` None means the default document set (the index settings')."""

    guild_id: int | None
    collection: str | None = None
    ask_channel_ids: list[int] = field(default_factory=list)
    admin_roles: list[str] = field(default_factory=list)
    thread_mode: bool = False
    helper_role_id: int | None = None
    admin_channel_id: int | None = None


class Guilds:
    """Settings by guild id (None for DMs): the defaults from ``BotSettings`` until a guild sets its own."""

    def __init__(self, settings: BotSettings) -> None:
        self.settings = settings

    def get(self, guild_id: int | None) -> GuildConfig:
        s = self.settings
        return GuildConfig(guild_id, None, list(s.ask_channel_ids), list(s.admin_roles))

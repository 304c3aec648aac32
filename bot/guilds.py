"""Per-guild settings: which document set a guild reads, its ask-channels, admin roles, thread mode, helper role
and admin channel.

Until an admin changes them with ``/config``, a guild gets the defaults from ``BotSettings``. What an admin
sets is stored in the bot's SQLite database (the file the feedback tables live in), table ``guild_config``,
one row per guild and setting, so a setting added later needs no migration and a guild that changed nothing
has no rows. All rows are read into memory at start-up: ``Guilds.get`` never touches the disk (a dict look-up,
well under a millisecond, safe on the event loop); ``update`` writes through in a worker thread.

Other modules read a guild's settings only through ``bot.guild_settings.get(guild_id)`` (not ``bot.guilds``:
discord.py's ``Client.guilds`` is the list of guilds).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from citebot.index import CitebotError

from .settings import BotSettings

log = logging.getLogger(__name__)

# Milliseconds a write waits for another connection's write to the same file (the feedback tables, another
# bot process) before failing: writes here are one small transaction, so waiting 5 s means something is stuck.
BUSY_TIMEOUT_MS = 5000

SCHEMA = """
CREATE TABLE IF NOT EXISTS guild_config (
    guild_id   INTEGER NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,  -- JSON
    updated_at REAL NOT NULL,
    updated_by INTEGER,
    PRIMARY KEY (guild_id, key)
)
"""


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


# What /config may store: every field but the guild id.
KEYS = tuple(f.name for f in fields(GuildConfig) if f.name != "guild_id")


class NotSaved(CitebotError):
    """The database refused a write; the guild's settings stay as they were."""


class Guilds:
    """Settings by guild id (None for DMs): the defaults from ``BotSettings`` until a guild sets its own.

    ``path`` None keeps changes in memory only (lost on restart): for tests, and when the database cannot be
    opened (then ``/config`` changes last until the bot stops, and the log says why).
    """

    def __init__(self, settings: BotSettings, path: Path | None = None) -> None:
        self.settings = settings
        self.path = path
        self._changed: dict[int, dict[str, Any]] = {}  # guild id -> the settings it changed
        self._lock = threading.Lock()  # one connection, used by one worker thread at a time
        self._db: sqlite3.Connection | None = None

    def defaults(self, guild_id: int | None) -> GuildConfig:
        s = self.settings
        return GuildConfig(
            guild_id, None, list(s.ask_channel_ids), list(s.admin_roles),
            thread_mode=s.thread_mode, helper_role_id=s.helper_role_id,
        )

    def get(self, guild_id: int | None) -> GuildConfig:
        """The guild's settings: memory only, safe to call on the event loop for every message."""
        config = self.defaults(guild_id)
        changed = self._changed.get(guild_id) if guild_id is not None else None
        return replace(config, **changed) if changed else config

    def changed(self, guild_id: int) -> set[str]:
        """The settings this guild set itself (the others follow the bot's defaults)."""
        return set(self._changed.get(guild_id, {}))

    def guild_ids(self) -> list[int]:
        """Guilds that changed any setting."""
        return list(self._changed)

    async def load(self) -> None:
        """Read every stored setting into memory (start-up), creating the table if need be."""
        try:
            rows = await asyncio.to_thread(self._read_all)
        except (OSError, sqlite3.Error) as exc:  # e.g. read-only media: run on the defaults rather than not at all
            log.warning("per-server settings are off (every server gets the defaults): cannot use %s: %s",
                        self.path, exc)
            self.path = None
            rows = []
        loaded: dict[int, dict[str, Any]] = {}
        for guild_id, key, value in rows:
            if key in KEYS:  # a row of a setting this version no longer has is kept but ignored
                loaded.setdefault(int(guild_id), {})[key] = json.loads(value)
        self._changed = loaded

    async def update(self, guild_id: int, by: int | None = None, **changes: Any) -> GuildConfig:
        """Store ``changes`` (a value None: back to the default) and return the guild's settings after them."""
        unknown = set(changes) - set(KEYS)
        if unknown:
            raise ValueError(f"unknown guild settings: {', '.join(sorted(unknown))}")
        try:
            await asyncio.to_thread(self._write, guild_id, by, changes)
        except (OSError, sqlite3.Error) as exc:
            log.error("could not store settings of guild %s: %s", guild_id, exc)
            raise NotSaved("could not save the settings (the bot's database refused the write); nothing changed") \
                from None
        mine = dict(self._changed.get(guild_id, {}))
        for key, value in changes.items():
            if value is None:
                mine.pop(key, None)
            else:
                mine[key] = value
        if mine:
            self._changed[guild_id] = mine
        else:
            self._changed.pop(guild_id, None)
        return self.get(guild_id)

    async def reset(self, guild_id: int) -> GuildConfig:
        """Forget everything the guild set: it follows the bot's defaults again."""
        return await self.update(guild_id, **dict.fromkeys(self.changed(guild_id)))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # ----- the database (worker threads only) -------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")  # readers (the feedback tables, the CLI) never block a write
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute(SCHEMA)
            db.commit()
            self._db = db
        return self._db

    def _read_all(self) -> list[tuple[int, str, str]]:
        with self._lock:
            db = self._connection()
            if db is None:
                return []
            return list(db.execute("SELECT guild_id, key, value FROM guild_config"))

    def _write(self, guild_id: int, by: int | None, changes: dict[str, Any]) -> None:
        with self._lock:
            db = self._connection()
            if db is None:
                return
            now = time.time()
            with db:  # one transaction: all of the changes or none
                for key, value in changes.items():
                    if value is None:
                        db.execute("DELETE FROM guild_config WHERE guild_id = ? AND key = ?", (guild_id, key))
                    else:
                        db.execute(
                            "INSERT INTO guild_config (guild_id, key, value, updated_at, updated_by) "
                            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, key) DO UPDATE SET "
                            "value = excluded.value, updated_at = excluded.updated_at, "
                            "updated_by = excluded.updated_by",
                            (guild_id, key, json.dumps(value), now, by),
                        )

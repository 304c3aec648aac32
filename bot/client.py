"""The bot object: settings, the index engine and the cogs wired together, built without connecting.

``create_bot`` returns a client that has not logged in, so a test (or another harness) can start it against
any Discord API base; ``citebot.bot.__main__`` starts it against Discord.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

import discord
from discord.ext import commands

from citebot.index import CitebotError, Engine, Settings, get_settings

from .asking import Asker, Cooldowns
from .guilds import Guilds
from .reindexing import Reindexer
from .render import NO_MENTIONS
from .replies import CitebotTree
from .settings import BotSettings, get_bot_settings

log = logging.getLogger(__name__)

# Loaded by name, never imported here: each extension registers what it needs (cogs, the Show passage
# button) in its own setup() and removes it in teardown(), and the extensions import this module's type.
EXTENSIONS = ("citebot.bot.exts.ask", "citebot.bot.exts.admin", "citebot.bot.exts.info")


def intents(message_content: bool = True) -> discord.Intents:
    """Guilds and guild messages; message content (privileged) so that ask-channel messages can be read.

    Discord sends the text of messages that mention the bot even without the message content intent.
    """
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = message_content
    return wanted


class CitebotBot(commands.Bot):
    """A ``commands.Bot`` holding citebot's settings, its ``Engine``, the shared ``Asker`` and ``Reindexer``."""

    def __init__(self, settings: BotSettings, index_settings: Settings, engine: Engine, **options: Any) -> None:
        discord.VoiceClient.warn_nacl = False  # no voice here: skip discord.py's start-up warnings about it
        discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,  # no prefix commands; mentions are questions (exts/ask)
            intents=intents(settings.message_content_intent),
            allowed_mentions=NO_MENTIONS,
            help_command=None,
            tree_cls=CitebotTree,
            **options,
        )
        self.settings = settings
        self.index_settings = index_settings
        self.engine = engine
        self.asker = Asker(
            engine,
            Cooldowns(settings.cooldown_rate, settings.cooldown_seconds),
            settings.max_question_chars,
            settings.ask_concurrency,
            settings.answer_cache_size,
        )
        self.reindexer = Reindexer(engine)
        self.guilds = Guilds(settings)
        self._background: set[asyncio.Task[Any]] = set()

    async def setup_hook(self) -> None:
        """Load the extensions (cogs and the persistent button), warm the model and sync slash commands."""
        for name in EXTENSIONS:
            await self.load_extension(name)
        if self.settings.warm_up:
            await self._warm_up()
        if self.settings.freeze_gc:
            freeze_heap()
        if self.settings.sync_commands:
            await self.sync_commands()

    async def sync_commands(self) -> None:
        """To the development guild when configured (shows at once), else globally (may take a while)."""
        if self.settings.dev_guild_id:
            guild = discord.Object(id=self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d slash commands to guild %s", len(synced), self.settings.dev_guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d slash commands globally", len(synced))

    async def _warm_up(self) -> None:
        """Load the model and open the index before going online, so the first question is not slow."""
        started = time.perf_counter()
        try:
            await asyncio.to_thread(self.engine.warm_up)
            await asyncio.to_thread(self.engine.ask, "warm up")
        except CitebotError as exc:  # e.g. nothing indexed yet, or the Chroma server down: questions will say so
            log.warning("warm-up: %s", exc)
        except Exception as exc:  # noqa: BLE001 - questions will report it; here it is only logged
            log.error("warm-up failed: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        else:
            log.info("ready to answer (model %s, %.1f s)", self.engine.embedder.name, time.perf_counter() - started)

    def engine_for(self, guild_id: int | None) -> Engine:
        """The engine answering a guild's questions (its own document set, else the default one)."""
        return self.engine

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        """A background task the bot keeps a reference to and cancels on close."""
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def process_commands(self, message: discord.Message) -> None:
        """No prefix commands: messages are handled as questions by the ask cog."""

    async def on_ready(self) -> None:
        user = self.user
        log.info("connected as %s (id %s) to %d server(s)", user, user.id if user else "?", len(self.guilds))

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await super().close()


def freeze_heap() -> None:
    """Collect once, then exclude everything alive (libraries, model) from future garbage-collector passes.

    A full pass over a heap holding torch, chromadb and discord.py takes from tens to hundreds of
    milliseconds with the GIL held, which stalls the event loop; after ``gc.freeze`` passes only walk
    objects created since.
    """
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    log.debug("froze %d start-up objects in %.0f ms", gc.get_freeze_count(), (time.perf_counter() - started) * 1000)


def create_bot(
    bot_settings: BotSettings | None = None,
    index_settings: Settings | None = None,
    engine: Engine | None = None,
    **client_options: Any,
) -> CitebotBot:
    """Build the bot without connecting; ``client_options`` go to ``discord.Client`` (e.g. guild_ready_timeout)."""
    bot_settings = bot_settings or get_bot_settings()
    index_settings = index_settings or (engine.settings if engine else get_settings())
    engine = engine or Engine(index_settings)
    return CitebotBot(bot_settings, index_settings, engine, **client_options)

"""The bot object: settings, the index engine and the cogs wired together, built without connecting.

``create_bot`` returns a client that has not logged in, so a test (or another harness) can start it against
any Discord API base; ``citebot.bot.__main__`` starts it against Discord. With ``CITEBOT_BOT_SHARDS`` set it
is a ``ShardedCitebotBot`` (discord.py's ``AutoShardedBot``): the same bot over several gateway connections.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import discord
from discord.ext import commands

from citebot.index import CitebotError, Engine, Settings, get_settings
from citebot.index import database_path as index_database_path

from .asking import Asker, Cooldowns
from .engines import Engines
from .feedback import Feedback
from .guilds import Guilds
from .render import NO_MENTIONS
from .replies import CitebotTree
from .settings import DEFAULT_SET, BotSettings, get_bot_settings
from .watch import start_keeping_fresh

log = logging.getLogger(__name__)

# Loaded by name, never imported here: each extension registers what it needs (cogs, the Show passage
# button) in its own setup() and removes it in teardown(), and the extensions import this module's type.
EXTENSIONS = ("citebot.bot.exts.ask", "citebot.bot.exts.admin", "citebot.bot.exts.info", "citebot.bot.exts.config",
              "citebot.bot.exts.feedback")


def intents(message_content: bool = True) -> discord.Intents:
    """Guilds and guild messages; message content (privileged) so that ask-channel messages can be read.

    Discord sends the text of messages that mention the bot even without the message content intent.
    """
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True  # direct messages get the DM policy (CITEBOT_BOT_DM_POLICY, exts/ask.py)
    wanted.message_content = message_content
    return wanted


def database_path(settings: BotSettings, index_settings: Settings) -> Path:
    """The bot's SQLite file (``CITEBOT_BOT_DB_PATH``, else beside the default index's state folder): the guild
    settings and the feedback tables share it, and ``citebot gaps`` finds it from the same settings."""
    return index_database_path(settings.db_path, index_settings)


class CitebotBot(commands.Bot):
    """A ``commands.Bot`` holding citebot's settings, the engines of its document sets (``engine`` is the default
    set's), the shared ``Asker``, the default set's ``Reindexer`` and every guild's settings."""

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
        self.asker = Asker(  # engines are per guild (engine_for): the asker takes one per question
            Cooldowns(settings.cooldown_rate, settings.cooldown_seconds),
            settings.max_question_chars,
            settings.ask_concurrency,
            settings.answer_cache_size,
        )
        self.engines = Engines(engine, settings.document_sets, settings.max_engines)
        self.reindexer = self.engines.reindexer(None)  # the default set's; a guild's is engines.reindexer(its set)
        # Not ``self.guilds``: discord.py's Client already has that (a read-only property: the list of guilds).
        self.guild_settings = Guilds(settings, database_path(settings, index_settings))
        # The answers and votes (opened by exts/feedback's setup, in its own thread): same file as guild_settings.
        self.feedback = Feedback(database_path(settings, index_settings), settings.store_questions)
        self._background: set[asyncio.Task[Any]] = set()
        self._stop_watching: Callable[[], None] = lambda: None

    async def setup_hook(self) -> None:
        """Read guild settings, load the extensions (cogs and the persistent button), warm the model, sync slash
        commands, and start re-indexing on a schedule or on file changes when configured."""
        await self.guild_settings.load()
        for name in EXTENSIONS:
            await self.load_extension(name)
        if self.settings.warm_up:
            await self._warm_up()
        if self.settings.freeze_gc:
            freeze_heap()
        if self.settings.sync_commands:
            await self.sync_commands()
        self._stop_watching = start_keeping_fresh(self)

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
        await self._open_chosen_sets()

    async def _open_chosen_sets(self) -> None:
        """Open the document sets servers chose (up to the open limit) before going online: a set's first
        question otherwise waits 1-2 s for its index to be checked and opened (scripts/measure_capacity.py)."""
        chosen = {self.set_of(g) for g in self.guild_settings.guild_ids()} - {DEFAULT_SET}
        for name in sorted(chosen)[: self.settings.max_engines - 1]:
            try:
                await asyncio.to_thread(self.engines.get(name).ask, "warm up")
            except CitebotError as exc:  # e.g. the set is not indexed yet: its questions will say so
                log.warning("warm-up of document set %r: %s", name, exc)
            except Exception as exc:  # noqa: BLE001 - questions will report it; here it is only logged
                log.error("warm-up of document set %r failed: %s", name, type(exc).__name__)

    def engine_for(self, guild_id: int | None) -> Engine:
        """The engine answering a guild's questions: its document set's (``/config``), else the default one.

        Cheap enough for every question on the event loop: a dict look-up, plus opening the set's engine
        (no disk read) the first time it is asked or after it was closed as least recently used.
        """
        return self.engines.get(self.guild_settings.get(guild_id).collection)

    def set_of(self, guild_id: int | None) -> str:
        """The name of the document set a guild reads (``default`` when it chose none)."""
        return self.engines.resolve(self.guild_settings.get(guild_id).collection)

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
        self._stop_watching()  # watchers end their wait for file changes within one step, not at cancel time
        for task in list(self._background):
            task.cancel()
        await super().close()
        self.guild_settings.close()


class ShardedCitebotBot(CitebotBot, commands.AutoShardedBot):
    """The same bot as discord.py's ``AutoShardedBot``: one gateway connection per shard, in one process.

    ``commands.Bot`` adds nothing of its own to ``BotBase`` and ``discord.Client``, so in this class's MRO the
    ``AutoShardedClient`` methods (connecting, latency, shard ids) come before ``Client``'s.
    """


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
    shards = bot_settings.shards
    if shards is None:
        return CitebotBot(bot_settings, index_settings, engine, **client_options)
    # "auto": discord.py asks Discord (GET /gateway/bot) for the recommended shard count.
    client_options.setdefault("shard_count", None if shards == "auto" else shards)
    return ShardedCitebotBot(bot_settings, index_settings, engine, **client_options)

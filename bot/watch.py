"""Keeping the index fresh without an admin: re-index on a schedule and/or when a document set's files change.

Both are off by default (``CITEBOT_BOT_REINDEX_EVERY_MINUTES``, ``CITEBOT_BOT_WATCH_DOCUMENTS``). An automatic
run is one more job of the set's ``Reindexer``, so it never overlaps a ``/reindex`` (it waits for one that is
running and then runs, since the change may have come after that run read the files). After a run that changed
something, or failed, every guild reading the set that configured an admin channel gets a one-line summary
there, without server paths; a scheduled run that found nothing to do is only logged (an hourly "0 added"
would teach admins to ignore the channel).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import discord

from citebot.index import CitebotError, IndexReport

from .engines import set_label
from .reindexing import AUTOMATIC, NoFolder, ReindexRunning, server_folders, without_paths
from .render import LIMITS, NO_MENTIONS, trim

if TYPE_CHECKING:
    from .client import CitebotBot

log = logging.getLogger(__name__)

# The longest a burst of changes is grouped before a re-index starts anyway, so that a folder written to without
# pause (a log file someone put there) still gets re-indexed once a minute.
MAX_GROUPING_SECONDS = 60.0
# How often the watcher thread reports changes and looks at the stop event (watchfiles' ``step``; its default).
WATCH_STEP_MS = 50
# How often a run waiting for someone else's /reindex to end looks again; a re-index takes seconds at least.
BUSY_POLL_SECONDS = 1.0


def start_keeping_fresh(bot: CitebotBot) -> Callable[[], None]:
    """Start the schedule and the folder watchers the settings ask for; returns what stops the watchers."""
    s = bot.settings
    stop = asyncio.Event()
    indexable = [name for name in bot.engines.names() if bot.engines.folder(name) is not None]
    if s.reindex_every_minutes > 0:
        bot.spawn(_schedule(bot, indexable, s.reindex_every_minutes * 60), "reindex-schedule")
    if s.watch_documents:
        for name in indexable:
            folder = bot.engines.folder(name)
            if folder is not None and folder.is_dir():
                bot.spawn(_watch(bot, name, folder, s.watch_quiet_seconds, stop), f"watch-{name}")
            else:
                log.warning("not watching document set %r: its folder does not exist", name)
    return stop.set


async def _schedule(bot: CitebotBot, names: list[str], every: float) -> None:
    while True:
        await asyncio.sleep(every)
        for name in names:
            try:
                await reindex_automatically(bot, name, "on schedule")
            except Exception:  # the schedule outlives one bad run; the log has the details
                log.exception("scheduled re-index of %r failed", name)


async def _watch(bot: CitebotBot, name: str, folder: Path, quiet: float, stop: asyncio.Event) -> None:
    """One re-index per burst of changes: once the folder was quiet for ``quiet`` seconds (or after
    ``MAX_GROUPING_SECONDS`` of changes without pause).

    The quiet period is timed here, not by watchfiles' ``step``: the watcher thread looks at ``stop`` only once a
    step, so a step of ``quiet`` (5 s by default) would hold the bot's shutdown that long.
    """
    changed: asyncio.Queue[int] = asyncio.Queue()
    feeder = asyncio.create_task(_feed(folder, stop, changed), name=f"watchfiles-{name}")
    loop = asyncio.get_running_loop()
    log.info("watching document set %r for changes", name)
    try:
        while True:
            count = await changed.get()
            deadline = loop.time() + MAX_GROUPING_SECONDS
            while (left := min(quiet, deadline - loop.time())) > 0:
                try:
                    count += await asyncio.wait_for(changed.get(), left)
                except TimeoutError:
                    break
            log.info("document set %r: %d file change(s); re-indexing", name, count)
            await reindex_automatically(bot, name, "after files changed")
    finally:
        feeder.cancel()


async def _feed(folder: Path, stop: asyncio.Event, changed: asyncio.Queue[int]) -> None:
    from watchfiles import awatch

    try:
        async for changes in awatch(folder, step=WATCH_STEP_MS, stop_event=stop):
            changed.put_nowait(len(changes))
    except Exception as exc:  # noqa: BLE001 - e.g. the folder was removed: say so once, keep the bot running
        log.warning("stopped watching %s for changes: %s", folder, exc)


async def reindex_automatically(bot: CitebotBot, name: str, reason: str) -> IndexReport | None:
    """Run one re-index of set ``name`` nobody asked for (waiting for a running one), then post its summary."""
    reindexer = bot.engines.reindexer(name)
    while True:
        try:
            job = reindexer.claim(AUTOMATIC, reason)
            break
        except ReindexRunning as busy:
            if busy.job.work is not None:
                await asyncio.wait({busy.job.work})
            else:
                await asyncio.sleep(BUSY_POLL_SECONDS)
        except NoFolder:
            return None
    label = set_label(name)
    report: IndexReport | None = None
    try:
        report = await reindexer.start(job)
    except CitebotError as exc:
        public = without_paths(str(exc), server_folders(reindexer.engine.settings))
        line = f"Automatic re-index of {label} ({reason}) not done: {public}"
        log.warning("automatic re-index of %r not done: %s", name, exc)
    except Exception:
        log.exception("automatic re-index of %r failed", name)
        line = (f"Automatic re-index of {label} ({reason}) failed with an unexpected error; "
                "the previous index still answers.")
    else:
        log.info("automatic re-index of %r (%s): %s", name, reason, report.summary())
        if not (report.added or report.updated or report.removed or report.skipped):
            return report
        line = f"Re-indexed {label} {reason}: {report.summary()}."
    await post_to_admins(bot, name, line)
    return report


async def post_to_admins(bot: CitebotBot, name: str, line: str) -> int:
    """Post ``line`` to the admin channel of every guild reading set ``name``; how many it reached."""
    sent = 0
    for guild_id in bot.guild_settings.guild_ids():
        config = bot.guild_settings.get(guild_id)
        if config.admin_channel_id is None or bot.engines.resolve(config.collection) != name:
            continue
        channel = bot.get_partial_messageable(config.admin_channel_id, guild_id=guild_id)
        try:
            await channel.send(trim(line, LIMITS.content), allowed_mentions=NO_MENTIONS)
            sent += 1
        except discord.HTTPException as exc:
            log.warning("could not post the re-index summary to channel %s (guild %s): %s",
                        config.admin_channel_id, guild_id, exc)
    return sent

"""The bot's one re-index at a time: who started it, how far it got, and the work in its worker thread.

The bot owns one ``Reindexer`` (``bot.reindexer``); the admin cog drives it (``/reindex``) and anything else
(``/status``) only reads it, so no cog has to reach into another. It knows nothing about Discord.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from citebot.index import Engine, IndexReport

STAGES = {"chunk": "reading and chunking changed files", "embed": "embedding new passages"}


@dataclass
class ReindexJob:
    """One re-index: who started it, and the latest progress reported by the worker thread."""

    user_id: int
    started: float = field(default_factory=time.time)
    progress: tuple[str, int, int] | None = None
    work: asyncio.Future[IndexReport] | None = None  # None while claimed but not yet started

    @property
    def running(self) -> bool:
        """From the claim until the worker thread has finished (committed, or failed)."""
        return self.work is None or not self.work.done()

    def describe(self) -> str:
        if self.progress is None:
            return "starting…"
        stage, done, total = self.progress
        return f"{STAGES.get(stage, stage)}: {done:,}/{total:,}"


class ReindexRunning(Exception):
    """A re-index is already running; ``job`` is that one."""

    def __init__(self, job: ReindexJob) -> None:
        self.job = job
        super().__init__(f"a re-index is already running ({job.describe()})")


class Reindexer:
    """Runs ``engine.index`` in a worker thread, one job at a time, and keeps its progress for readers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.job: ReindexJob | None = None

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def describe(self) -> str:
        """The running job's progress, or ``idle``."""
        return self.job.describe() if self.job is not None and self.job.running else "idle"

    def claim(self, user_id: int) -> ReindexJob:
        """Reserve the one slot for ``user_id``, or raise ``ReindexRunning``.

        Synchronous (no await between the check and the claim), so two quick /reindex cannot both get one.
        """
        if self.job is not None and self.job.running:
            raise ReindexRunning(self.job)
        self.job = ReindexJob(user_id)
        return self.job

    def release(self, job: ReindexJob) -> None:
        """Give back a claim that was never started (e.g. the reply announcing it could not be sent)."""
        if self.job is job and job.work is None:
            self.job = None

    def start(self, job: ReindexJob) -> asyncio.Future[IndexReport]:
        """Start the claimed ``job``'s indexing in a worker thread; the future resolves to its report.

        The thread cannot be cancelled: on shutdown it finishes (or dies with the process), and a re-index
        that dies part way leaves the previous index answering.
        """
        if self.job is not job or job.work is not None:
            raise RuntimeError("start() takes the job just claimed, once")

        def progress(stage: str, done: int, total: int) -> None:  # called from the worker thread
            job.progress = (stage, done, total)

        job.work = asyncio.ensure_future(asyncio.to_thread(self.engine.index, None, progress))
        return job.work

"""One re-index at a time per document set: who started it, how far it got, and the work in its worker thread.

The bot owns one ``Reindexer`` per document set (``bot.engines.reindexer(name)``; ``bot.reindexer`` is the
default set's); the admin cog drives it (``/reindex``), the scheduler and the folder watcher (``watch.py``)
start automatic runs, and anything else (``/status``) only reads it. It knows nothing about Discord.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from citebot.index import CitebotError, Embedder, Engine, IndexReport, Settings, WrappedEmbedder

STAGES = {"chunk": "reading and chunking changed files", "embed": "embedding new passages"}
AUTOMATIC = 0  # the user id of a run nobody started by hand (the schedule or the folder watcher)


class ProgressEmbedder(WrappedEmbedder):
    """Embeds passages one model batch at a time and reports each batch, so that progress moves.

    The indexer reports embedding progress once per round of ``batch_size * 4`` chunks (128 by default), so a
    re-index of 108 chunks showed "0/108" until it was done (issue 11). Splitting a round into the model's own
    batches costs nothing (the model batches by ``batch_size`` anyway) and reports every ``batch_size`` chunks.
    """

    def __init__(self, inner: Embedder, batch_size: int) -> None:
        super().__init__(inner)
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self.on_embedded: Callable[[int], None] | None = None  # set by the running job: passages just embedded

    def embed_passages(
        self, texts: Sequence[str], line_spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        vectors: list[np.ndarray] = []
        lines: list[np.ndarray] = []
        for start in range(0, len(texts), self.batch_size):
            part, spans = texts[start : start + self.batch_size], line_spans[start : start + self.batch_size]
            got, got_lines = self.inner.embed_passages(part, spans)
            vectors.append(got)
            lines.extend(got_lines)
            report = self.on_embedded
            if report is not None:
                report(len(part))
        if not vectors:
            return self.inner.embed_passages(texts, line_spans)
        return np.concatenate(vectors), lines


@dataclass
class ReindexJob:
    """One re-index: who started it (``AUTOMATIC`` for the schedule or the watcher), and its latest progress."""

    user_id: int
    started: float = field(default_factory=time.time)
    progress: tuple[str, int, int] | None = None
    work: asyncio.Future[IndexReport] | None = None  # None while claimed but not yet started
    reason: str = "by hand"  # why it runs: "by hand", "on schedule", "after files changed"
    files: int | None = None  # changed files, once the indexer has counted them (its "chunk" stage)

    @property
    def running(self) -> bool:
        """From the claim until the worker thread has finished (committed, or failed)."""
        return self.work is None or not self.work.done()

    def describe(self) -> str:
        if self.progress is None:
            return "starting…"
        stage, done, total = self.progress
        text = f"{STAGES.get(stage, stage)}: {done:,}/{total:,}"
        if stage == "embed" and self.files:
            text += f" from {self.files:,} changed file{'s' if self.files != 1 else ''}"
        return text


class ReindexRunning(Exception):
    """A re-index is already running; ``job`` is that one."""

    def __init__(self, job: ReindexJob) -> None:
        self.job = job
        super().__init__(f"a re-index is already running ({job.describe()})")


class NoFolder(CitebotError):
    """The document set has no folder configured: the bot's owner indexes it with the command line."""


class Reindexer:
    """Runs ``engine.index`` over ``folder`` in a worker thread, one job at a time, and keeps its progress.

    ``folder`` None indexes the engine's ``docs_dir`` setting; ``indexable`` False (a document set declared
    without a folder) refuses every claim with ``NoFolder``. The engine's embedder is wrapped in a
    ``ProgressEmbedder`` (once) so that embedding progress is reported per model batch.
    """

    def __init__(self, engine: Engine, folder: Path | None = None, indexable: bool = True) -> None:
        self.engine = engine
        self.folder = folder
        self.indexable = indexable
        if not isinstance(engine.embedder, ProgressEmbedder):
            engine.embedder = ProgressEmbedder(engine.embedder, engine.settings.batch_size)
        self.embedder: ProgressEmbedder = engine.embedder
        self.job: ReindexJob | None = None
        self.last: tuple[ReindexJob, IndexReport | BaseException] | None = None  # the latest finished run

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def describe(self) -> str:
        """The running job's progress, or ``idle``."""
        return self.job.describe() if self.job is not None and self.job.running else "idle"

    def claim(self, user_id: int, reason: str = "by hand") -> ReindexJob:
        """Reserve the one slot for ``user_id``, or raise ``ReindexRunning``.

        Synchronous (no await between the check and the claim), so two quick /reindex cannot both get one.
        """
        if not self.indexable:
            raise NoFolder("this document set has no folder configured: the bot's owner indexes it with "
                           "`citebot index`")
        if self.job is not None and self.job.running:
            raise ReindexRunning(self.job)
        self.job = ReindexJob(user_id, reason=reason)
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
        embedded = 0

        def progress(stage: str, done: int, total: int) -> None:  # called from the worker thread
            nonlocal embedded
            if stage == "embed":
                embedded = done  # the indexer's count at the start of each round; batches add to it below
            elif stage == "chunk":
                job.files = total
            job.progress = (stage, done, total)

        def batch_embedded(count: int) -> None:  # from the worker thread, between the indexer's reports
            nonlocal embedded
            if job.progress is not None and job.progress[0] == "embed":
                embedded = min(embedded + count, job.progress[2])
                job.progress = ("embed", embedded, job.progress[2])

        def run() -> IndexReport:
            self.embedder.on_embedded = batch_embedded
            try:
                return self.engine.index(self.folder, progress)
            finally:
                self.embedder.on_embedded = None

        job.work = asyncio.ensure_future(asyncio.to_thread(run))
        job.work.add_done_callback(lambda work: self._finished(job, work))
        return job.work

    def _finished(self, job: ReindexJob, work: asyncio.Future[IndexReport]) -> None:
        if work.cancelled():
            return
        error = work.exception()
        self.last = (job, error if error is not None else work.result())


# An absolute POSIX or Windows path (at least two components) left in a message after the known folders were
# replaced: the last line of defence, so that no member sees where the server keeps its files.
_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.])(?:/|[A-Za-z]:\\)[^\s`'\"<>|]+[/\\][^\s`'\"<>|]*")


def without_paths(text: str, folders: Iterable[tuple[Path | str | None, str]]) -> str:
    """``text`` with each known server folder replaced by its plain name (e.g. the docs folder -> "the document
    folder"), then any other absolute path by "a server folder": for anything a member may read."""
    for folder, name in folders:
        if not folder:
            continue
        for form in {str(folder), str(Path(folder).resolve())}:
            if form and form not in {".", "/"}:
                text = text.replace(f"`{form}`", name).replace(form, name)
    return _ABSOLUTE_PATH.sub("a server folder", text)


def server_folders(settings: Settings) -> list[tuple[Path | str | None, str]]:
    """The folders of one index that messages may name, with what a member is told instead."""
    return [
        (settings.docs_dir, "the document folder"),
        (settings.resolved_state_dir(), "the index"),
        (None if settings.chroma_host else settings.db_path, "the index"),
    ]

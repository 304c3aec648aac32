"""The public entry point: one object that indexes, answers and reports, built from settings."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from . import state
from .embedder import Embedder, make_embedder
from .errors import UsageError
from .indexer import IndexReport, Progress, build
from .reader import make_reader
from .search import Answer, Mode, Searcher
from .settings import Settings, get_settings
from .store import Store


@dataclass(frozen=True)
class Stats:
    files: int
    chunks: int
    model: str
    built_at: float | None
    generation: int
    root: str
    store: str

    def to_json(self) -> dict[str, object]:
        return {
            "files": self.files, "chunks": self.chunks, "model": self.model,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.built_at)) if self.built_at else None,
            "generation": self.generation, "root": self.root, "store": self.store,
        }


class Engine:
    """Index a folder and answer questions from it; safe to share between threads.

    The model loads on first use, so ``stats`` and an unchanged re-index never pay for it.
    """

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings or get_settings()
        s = self.settings
        self.embedder = embedder or make_embedder(s.model, s.device, s.batch_size)
        self.store = Store(s)
        self.searcher = Searcher(s, self.embedder, self.store, make_reader(s, self.embedder.name))
        self._seen_commit = -1.0

    def index(
        self, folder: Path | None = None, progress: Progress | None = None, wait: float = 0.0
    ) -> IndexReport:
        """Bring the index in step with ``folder`` (default: the ``docs_dir`` setting)."""
        return build(self.settings, folder or self.settings.docs_dir, self.embedder, self.store, progress, wait)

    def ask(self, question: str, k: int | None = None, mode: Mode = "hybrid") -> Answer:
        """The best passages for ``question``, or none when nothing is relevant enough."""
        self._follow_commits()
        return self.searcher.search(question, k, mode)

    def _follow_commits(self) -> None:
        """Look at a newly committed index once, before searching it.

        Another process's commit means the local Chroma directory changed under this one: reopen it.
        And refuse to compare a question embedded by one model with passages embedded by another:
        vectors of two models of the same size do not raise anywhere, they just match at random.
        """
        state_dir = self.settings.resolved_state_dir()
        stamp = state.mtime(state_dir)
        if stamp == self._seen_commit:
            return
        manifest = state.load(state_dir)
        if manifest is not None and manifest.writer != state.process_token():
            self.store.reopen()
        if manifest is not None and manifest.model and manifest.model != self.embedder.name:
            raise UsageError(
                f"the index at {self.store.where} was built with the model {manifest.model!r}, not "
                f"{self.embedder.name!r}: re-index (citebot index) or set CITEBOT_MODEL to the model it was built with"
            )
        self._seen_commit = stamp

    def stats(self) -> Stats:
        manifest = state.load(self.settings.resolved_state_dir()) or state.Manifest()
        return Stats(
            len(manifest.files), len(manifest.chunk_ids()), manifest.model or self.embedder.name,
            manifest.built_at or None, manifest.generation, manifest.root, self.store.where,
        )

    def warm_up(self) -> None:
        """Load the models now rather than on the first question."""
        self.embedder.embed_queries(["warm up"])
        if self.searcher.reader is not None:
            self.searcher.reader.read("warm up", ["warm", "up"])

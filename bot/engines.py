"""The document sets this bot serves and one ``Engine`` per set, opened when first asked and shared by every guild.

A document set is an index of its own: the default one is the index the ``CITEBOT_*`` settings describe; the
others are declared by the bot's owner (``CITEBOT_BOT_DOCUMENT_SETS=name=folder,...``), never by a guild admin,
who only picks one by name with ``/config`` (so no member can point the bot at a folder of the server). Set
``NAME`` lives in the Chroma collection ``<CITEBOT_COLLECTION>-NAME``; in embedded mode in its own directory
``<CITEBOT_DB_PATH>-NAME`` (a directory's sidecar holds one index, and a reader copies a whole directory), on a
Chroma server beside the others. All engines share the one embedding model.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from citebot.index import Embedder, Engine, Settings

from .reindexing import ProgressEmbedder, Reindexer
from .settings import DEFAULT_SET

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentSet:
    """A set's name and the folder it is indexed from (None: indexed from the command line only)."""

    name: str
    folder: Path | None


def set_settings(base: Settings, name: str, folder: Path | None) -> Settings:
    """The index settings of document set ``name``: its own collection and sidecar, the rest as ``base``."""
    if name == DEFAULT_SET:
        return base
    update: dict[str, object] = {"collection": f"{base.collection}-{name}"}
    if folder is not None:
        update["docs_dir"] = folder
    if not base.chroma_host:
        update["db_path"] = base.db_path.with_name(f"{base.db_path.name}-{name}")
    if base.state_dir is not None:
        update["state_dir"] = base.state_dir.with_name(f"{base.state_dir.name}-{name}")
    return base.model_copy(update=update)


def set_label(name: str) -> str:
    """How a message names a document set: by its name, never by its folder."""
    return "the documents" if name == DEFAULT_SET else f"the `{name}` documents"


def share_reader(default: Engine, other: Engine) -> None:
    """Give ``other`` the default engine's line reader instead of its own.

    Each ``Engine`` makes its own ``LineReader``, a second copy of the bundled model (about 65 MiB once loaded,
    measured with scripts/measure_capacity.py), although the reader depends only on the model, not on the
    index, and is thread-safe. ``Engine`` takes no reader argument, so the bot swaps it in here; both engines
    use the same embedding model, which is what a reader is for.
    """
    picker = getattr(other.searcher, "picker", None)
    if picker is not None and default.searcher.reader is not None and other.searcher.reader is not None:
        picker.reader = default.searcher.reader


class UnknownSet(LookupError):
    """A document set name the bot's owner did not configure."""


class Engines:
    """Engines (and their re-indexers) by document set: lazy, at most ``limit`` open, the default always.

    Thread-safe: ``get`` may run on the event loop (a question) and in worker threads (warm-up) alike. Opening
    an engine reads no index (the store opens on its first call), so ``get`` on the event loop costs well
    under a millisecond once the set's reader weights are cached by the first engine.
    """

    def __init__(self, default: Engine, sets: dict[str, Path | None], limit: int, embedder: Embedder | None = None
                 ) -> None:
        self.default = default
        self.sets = {DEFAULT_SET: DocumentSet(DEFAULT_SET, None)} | {n: DocumentSet(n, f) for n, f in sets.items()}
        self.limit = limit
        inner = default.embedder
        self.embedder = embedder or (inner.inner if isinstance(inner, ProgressEmbedder) else inner)  # the model
        self._lock = threading.Lock()
        self._open: OrderedDict[str, Engine] = OrderedDict({DEFAULT_SET: default})
        self._reindexers: dict[str, Reindexer] = {DEFAULT_SET: Reindexer(default)}

    def names(self) -> list[str]:
        """Every set a guild may choose, the default first."""
        return list(self.sets)

    def resolve(self, name: str | None) -> str:
        """A guild's stored choice as a set that exists: the default for None or a set no longer configured."""
        return name if name is not None and name in self.sets else DEFAULT_SET

    def settings_for(self, name: str) -> Settings:
        if name not in self.sets:
            raise UnknownSet(name)
        return set_settings(self.default.settings, name, self.sets[name].folder)

    def get(self, name: str | None) -> Engine:
        """The engine of set ``name`` (see ``resolve``), opened if need be; may close the least recently used."""
        key = self.resolve(name)
        with self._lock:
            engine = self._open.get(key)
            if engine is not None:
                self._open.move_to_end(key)
                return engine
            engine = Engine(self.settings_for(key), self.embedder)
            share_reader(self.default, engine)
            self._open[key] = engine
            folder = self.sets[key].folder
            self._reindexers[key] = Reindexer(engine, folder, indexable=folder is not None)
            self._evict()
            log.info("opened document set %r (%d open)", key, len(self._open))
            return engine

    def reindexer(self, name: str | None) -> Reindexer:
        """The re-indexer of set ``name``, bound to its current engine."""
        key = self.resolve(name)
        with self._lock:
            reindexer = self._reindexers.get(key)
        if reindexer is None or self._open.get(key) is not reindexer.engine:
            self.get(key)
            with self._lock:
                reindexer = self._reindexers[key]
        return reindexer

    def folder(self, name: str | None) -> Path | None:
        """The folder set ``name`` is indexed from; the default set's is the ``docs_dir`` setting."""
        key = self.resolve(name)
        return self.default.settings.docs_dir if key == DEFAULT_SET else self.sets[key].folder

    def opened(self) -> list[str]:
        with self._lock:
            return list(self._open)

    def _evict(self) -> None:
        """Close least recently used sets over the limit; never the default, never one that is re-indexing."""
        for key in list(self._open):
            if len(self._open) <= self.limit:
                return
            reindexer = self._reindexers.get(key)
            if key == DEFAULT_SET or (reindexer is not None and reindexer.running):
                continue
            engine = self._open.pop(key)
            self._reindexers.pop(key, None)
            engine.store.reopen()  # frees its Chroma client once the calls still running on it end
            log.info("closed document set %r (least recently asked; %d open)", key, len(self._open))

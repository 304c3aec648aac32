"""Chroma access: one collection of chunks, embeddings supplied by citebot, cosine space.

Every call goes through ``_guard`` so that a Chroma server that is down becomes one clear
``StoreUnavailable`` message, and the client is rebuilt on the next call so service resumes by
itself when the server returns.

A local directory is read and written differently (issue 12). A store reads from a private copy of it
(``snapshot.py``): chromadb writes to any directory it opens, and a reader must not write (read-only media,
full disks, an ``ask`` that grew the database by 5 MB). Before any client of this process opens a local
directory, or a copy of it, a child process opens it first (``probe.py``): Chroma's native code segfaults on a
damaged vector segment, and only a child can die of that in citebot's place. The first call that changes the
collection (or ``ping``, a writer's first call) opens the directory itself, and the store then reads it in
place too, its own writes included, until ``reopen``.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from . import probe, snapshot
from .errors import CitebotError, IndexDamaged, NoSpace, StoreUnavailable, UsageError, one_line
from .settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
# Ids (or chunks) per Chroma call. chromadb refuses batches over client.get_max_batch_size() (5461 for a local
# directory in 1.5); 1000 stays well under it and keeps one request to a server small. Not tuned further.
_BATCH = 1000
# Ids per page when listing the whole collection (all_ids): a page is ids only, so it can be larger than _BATCH;
# the first version's choice, never a bottleneck (it runs only after a killed run or a lost-chunk check).
_ID_PAGE = 10_000
_CAUSE_DEPTH = 10  # most exceptions followed down a __cause__/__context__ chain (chromadb wraps errors 1-3 deep)
COUNT_MAX_AGE = 1.0  # seconds a query may reuse the collection size
# How a question sees past chunks it does not trust (a re-index's uncommitted ones, a commit's stale ones):
# the search reaches as many neighbours further as there are such chunks, up to this many; past it, it leaves
# out the generation being written with a metadata filter instead. Measured on 20,000 chunks (2 busy cores):
# a search for 2,040 neighbours ids-only takes 14 ms, 5,040 36 ms, 10,040 126 ms; a filtered one 160-250 ms
# whatever its reach (chromadb lists every matching id from SQLite first), an unfiltered 40 ms 1-5 ms.
MAX_UNFILTERED_REACH = 5000
# Neighbours a search asks Chroma for at least (ids and distances only). Its HNSW search explores max(ef_search
# = 100, k) candidates and returns an approximation: at k = 40 it found 86% of the true nearest 40 (10,000
# random 64-d vectors), and which ones it misses changes whenever the graph changes, as when a re-index adds
# uncommitted chunks to it (the 25-30 of 50 answers issue 12 saw change; chunks of the hash embedder also tie
# by the hundred). At 1,000 it found 99.95% before and after 10,000 more vectors were added (100% at 1,500),
# for 3 ms (9 ms on 20,000 256-d chunks, busy); ties are then broken by id, so the answer is the same.
MIN_REACH = 1000
REACH_GROWTH = 4  # factor the reach grows by while fewer than n trusted chunks are among the neighbours found
# A failed local write with less room than this left is taken for a full disk: chromadb reports one as
# "Failed to apply logs to the metadata segment", without an errno. One upsert of _BATCH chunks writes ~5-10 MB
# (the log, the metadata tables and their full-text index), and SQLite needs room for its journal besides.
LOW_SPACE_BYTES = 32 * 2**20
# A Chroma server answers a write only once it has stored it: one _BATCH of chunks (with their line vectors)
# took 2.5 s on an idle 2-core machine, too close to the `chroma_timeout` a question gets (default 5 s). Writes,
# made by a re-index that nobody waits on, get this long at least; it is the bound every request had before issue 12.
WRITE_TIMEOUT = 60.0
_WRITE_PATHS = ("/add", "/update", "/upsert", "/delete")  # how chromadb's HTTP API names its write endpoints
_DIMENSION = re.compile(r"expecting embedding with dimension of (\d+), got (\d+)")


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as stored: enough to display it, cite it and score its lines without the file."""

    id: str
    source: str
    line_start: int
    line_end: int
    text: str
    units: list[tuple[int, list[int]]]  # per displayed line: its number and the lines repeating it
    context: str
    hash: str
    line_vectors: np.ndarray | None = None
    embedding: np.ndarray | None = None
    packed_line_vectors: str = ""  # as stored; unpacked only for the few candidates whose lines get scored
    # The index generation whose run wrote it ("gen" in Chroma; 0: written before issue 12, or not by a run).
    # A question leaves out the generation being written when untrusted chunks are many (Store.query).
    generation: int = 0
    # Indices into ``units`` of the lines that must never be the answering line: markup (an admonition
    # marker, a directive, an include) and headings. Shown as context. ("markup" in Chroma, JSON; [] if absent.)
    markup: list[int] = field(default_factory=list)
    # The share of the chunk's prose lines that are not list-shaped (release notes, link lists, version
    # headers: index/prose.py), 0..1; 1.0 for chunks written before it existed. ("prose" in Chroma.)
    prose: float = 1.0
    # The code blocks it holds only part of, as (first line, last line) of each whole block: a block longer than
    # the window is split between chunks, and an answer completes a cited piece from the others
    # (``search.complete_blocks``). ("cut" in Chroma, JSON; [] if absent.)
    cut_blocks: list[tuple[int, int]] = field(default_factory=list)
    # Lines of its code blocks that repeat an earlier line of the file (an example's imports), as (number, text):
    # collapsed into the first copy for embedding and search (``cleaner.clean``), but shown with the block, which
    # would read as half a block without them. Not in ``units``. ("rep" in Chroma, JSON; [] if absent.)
    repeats: list[tuple[int, str]] = field(default_factory=list)

    def lines_matrix(self) -> np.ndarray | None:
        """One unit vector per displayed line, or None when the store holds none."""
        if self.line_vectors is not None:
            return self.line_vectors
        if not self.packed_line_vectors or not self.units:
            return None
        raw = np.frombuffer(base64.b64decode(self.packed_line_vectors), dtype=np.float16).astype(np.float32)
        return raw.reshape(len(self.units), -1)

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "source": self.source,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "units": json.dumps(self.units, separators=(",", ":")),
            "context": self.context,
            "hash": self.hash,
        }
        if self.line_vectors is not None:
            meta["lvec"] = base64.b64encode(self.line_vectors.astype(np.float16).tobytes()).decode()
        elif self.packed_line_vectors:
            meta["lvec"] = self.packed_line_vectors
        if self.generation:
            meta["gen"] = self.generation
        if self.markup:
            meta["markup"] = json.dumps(self.markup, separators=(",", ":"))
        meta["prose"] = float(self.prose)
        if self.cut_blocks:
            meta["cut"] = json.dumps(self.cut_blocks, separators=(",", ":"))
        if self.repeats:
            meta["rep"] = json.dumps(self.repeats, separators=(",", ":"), ensure_ascii=False)
        return meta

    @classmethod
    def from_chroma(cls, cid: str, meta: dict[str, Any], text: str, embedding: Any = None) -> StoredChunk:
        units = [(int(a), list(b)) for a, b in json.loads(str(meta["units"]))]
        return cls(
            cid, str(meta["source"]), int(meta["line_start"]), int(meta["line_end"]), text, units,
            str(meta.get("context", "")), str(meta.get("hash", "")), None,
            None if embedding is None else np.asarray(embedding, dtype=np.float32),
            str(meta.get("lvec") or ""), int(meta.get("gen") or 0),
            [int(i) for i in json.loads(str(meta.get("markup") or "[]"))], float(meta.get("prose", 1.0)),
            [(int(a), int(b)) for a, b in json.loads(str(meta.get("cut") or "[]"))],
            [(int(n), str(t)) for n, t in json.loads(str(meta.get("rep") or "[]"))],
        )


def _is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says the Chroma server cannot be reached or stopped answering."""
    import httpx

    # What chromadb's HTTP client (httpx) raises when a server is down, hung or drops the connection, and the
    # operating system's refused / reset connections where they arrive unwrapped.
    unreachable = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError, ConnectionError)
    if any(isinstance(e, unreachable) for e in _chain(exc)):
        return True
    # chromadb's Client turns some connection failures into a plain ValueError ("Could not connect to a Chroma
    # server...") and gives them no type of their own: its words are all there is to go on.
    text = " ".join(str(e) for e in _chain(exc)).lower()
    return "could not connect" in text or "connection refused" in text


def _chain(exc: BaseException | None) -> Iterable[BaseException]:
    seen = 0
    while exc is not None and seen < _CAUSE_DEPTH:
        yield exc
        exc = exc.__cause__ or exc.__context__
        seen += 1


@dataclass
class _Lease:
    """A chromadb System some of citebot's clients use: how many calls run on it, and how to free it."""

    owner: Any  # the System (or the client); kept alive as long as the lease
    free: Callable[[], None]
    calls: int = 0
    retired: bool = False


class _Systems:
    """Frees each chromadb System citebot drops, once the last call running on it ends (issue 9).

    A chromadb client lives on a "System": for a local directory, the whole state chromadb loaded from
    it (vectors, SQLite), shared by every client of that directory in the process; for a server, the
    client's own HTTP session. A reopen leaves it for a fresh one while calls on other threads may still
    be running on it, so every call is counted here and the System is freed when it has been dropped and
    is idle. Dropped without being stopped, it stays in memory: 300 reopens grew a bot by 160 MiB.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()  # also held across opening a local client: see _connect_local
        self._leases: dict[int, _Lease] = {}  # by id() of the owner

    def add(self, owner: Any, free: Callable[[], None]) -> int:
        """Count a first call on ``owner`` (a System already leased by another store is shared); its key."""
        with self.lock:
            lease = self._leases.setdefault(id(owner), _Lease(owner, free))
            lease.calls += 1
            return id(owner)

    def begin(self, key: int) -> bool:
        """Count a call starting on ``key``; False once it has been dropped: open a fresh client."""
        with self.lock:
            lease = self._leases.get(key)
            if lease is None or lease.retired:
                return False
            lease.calls += 1
            return True

    def end(self, key: int) -> None:
        with self.lock:
            lease = self._leases[key]
            lease.calls -= 1
            done = self._take_if_idle(key)
        _free(done)

    def retire(self, key: int) -> None:
        """No new call may start on ``key``; it is freed now if idle, else when its last call ends."""
        with self.lock:
            lease = self._leases.get(key)
            if lease is None:
                return
            lease.retired = True
            done = self._take_if_idle(key)
        _free(done)

    def holds(self, key: int) -> bool:
        with self.lock:
            return key in self._leases

    def _take_if_idle(self, key: int) -> _Lease | None:
        lease = self._leases[key]
        if lease.retired and lease.calls <= 0:
            return self._leases.pop(key)
        return None


def _free(lease: _Lease | None) -> None:
    if lease is not None:
        try:
            lease.free()
        except Exception as exc:  # noqa: BLE001 - freeing is best effort; the store has moved on already
            log.debug("could not free a dropped Chroma client: %s", exc)


_SYSTEMS = _Systems()


class _Absent:
    """Stands in for a collection a reader finds missing (no chroma.sqlite3, or no such collection in it):
    answers as an empty one and creates nothing, where chromadb would create both."""

    def __init__(self, where: str, why: str) -> None:
        self.where, self.why = where, why

    def count(self) -> int:
        return 0

    def get(self, **_: Any) -> dict[str, list[Any]]:
        return {"ids": [], "metadatas": [], "documents": [], "embeddings": []}

    def query(self, **_: Any) -> dict[str, list[list[Any]]]:
        return {"ids": [[]], "metadatas": [[]], "documents": [[]], "distances": [[]]}


class _Degraded:
    """A collection whose persisted vectors are gone (``probe.Verdict.missing``): Chroma would search the few
    left in its log and answer from those, so a search is ``IndexDamaged``; everything else works, which is
    what ``check`` and a re-index need to find the lost vectors by id."""

    def __init__(self, collection: Any, where: str, missing: str) -> None:
        self._collection, self._where, self._missing = collection, where, missing

    def query(self, **_: Any) -> Any:
        raise IndexDamaged(f"the vector store at {self._where} lost its vectors ({self._missing})",
                           "run `citebot index` (or `citebot check --repair`) to embed them again")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)


class _Reads:
    """The private copy of each local directory (and collection) that this process's readers share
    (``snapshot.py``), kept while the directory's files stay as they were when it was made."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # held while a copy is made: a second reader waits for it, not copies too
        self._current: dict[tuple[str, str], snapshot.Snapshot] = {}

    def current(self, source: Path, collection: str) -> snapshot.Snapshot:
        key = (str(source), collection)
        with self._lock:
            old = self._current.get(key)
            if old is not None and old.fingerprint == probe.fingerprint(source):
                return old
            fresh = snapshot.take(source, collection)
            self._current[key] = fresh
            _VERDICTS.remember(source, collection, fresh.fingerprint, fresh.verdict)
        if old is not None:
            _retire_reader(old)
        return fresh

    def drop(self, source: Path, collection: str) -> None:
        with self._lock:
            old = self._current.pop((str(source), collection), None)
        if old is not None:
            _retire_reader(old)


class _Verdicts:
    """What ``probe.examine`` found in each local directory, by the fingerprint of its files: a process
    checks a directory once per change of its files, not once per open."""

    LIMIT = 256  # verdicts kept; one per change of a directory's files, so a bot keeps one per commit

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[tuple[str, str, snapshot.Fingerprint], probe.Verdict] = {}

    def remember(self, source: Path, collection: str, fingerprint: snapshot.Fingerprint,
                 verdict: probe.Verdict) -> None:
        with self._lock:
            if len(self._found) >= self.LIMIT:
                self._found.clear()
            self._found[(str(source), collection, fingerprint)] = verdict

    def of(self, source: Path, collection: str) -> probe.Verdict:
        """The verdict on the directory as it is now, checked in place by a child if not known yet (a writer
        may write there). A new directory has nothing to check."""
        before = probe.fingerprint(source)
        if not any(name == "chroma.sqlite3" for name, _, _ in before):
            return probe.Verdict(database=False, collection=False)
        with self._lock:
            known = self._found.get((str(source), collection, before))
        if known is not None:
            return known
        verdict = probe.examine(source, collection)
        self.remember(source, collection, before, verdict)
        if not verdict.damaged:  # the child's own open wrote chromadb's lock row: the state it found, still
            self.remember(source, collection, probe.fingerprint(source), verdict)
        return verdict


_READS = _Reads()
_VERDICTS = _Verdicts()


def _retire_reader(snap: snapshot.Snapshot) -> None:
    """No new call may use ``snap``; its Chroma state and its copy go once the calls using them end."""
    if snap.in_place:
        return  # the directory's own System: retired with the writer's (_retire_local)
    with _SYSTEMS.lock:
        system = None if snap.folder is None else _forget_shared_system(str(snap.folder))
        keys = [id(owner) for owner in (system, snap) if owner is not None and _SYSTEMS.holds(id(owner))]
        for key in keys:
            _SYSTEMS.retire(key)
    if not keys:  # never opened: nothing will free it
        _stop_reader(system, snap)


def _stop_reader(system: Any, snap: snapshot.Snapshot) -> None:
    if system is not None:
        with contextlib.suppress(Exception):
            system.stop()
    if not snap.in_place:
        snap.discard()


@dataclass(frozen=True)
class _Connection:
    client: Any
    collection: Any
    key: int  # its lease in _SYSTEMS
    snapshot: snapshot.Snapshot | None = None  # what a reader of a local directory opened (None: a writer)

    @property
    def private(self) -> bool:
        """Whether it reads a private copy, which nothing but this process touches."""
        return self.snapshot is not None and not self.snapshot.in_place


class Store:
    """The chunk collection of one index, embedded or on a Chroma server; safe to share between threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._conn: _Connection | None = None
        self._lock = threading.Lock()
        self._counted: tuple[float, int] | None = None
        self._live = False  # local: the directory itself is open (this store writes), not a reader's copy

    @property
    def where(self) -> str:
        s = self.settings
        return f"{s.chroma_host}:{s.chroma_port}" if s.chroma_host else str(s.db_path)

    def _guard(self, fn: Callable[[Any], T], live: bool = False) -> T:
        """Run ``fn(collection)``, turning Chroma's failures into one-line errors.

        ``live``: a writer's call, which opens a local directory itself rather than a reader's copy (see
        ``_acquire``). A local directory that another process wrote since this one loaded it fails with
        Chroma's ``InternalError``, a collection deleted under this client with ``NotFoundError``: either way
        the collection is opened again and the call retried once. A local failure that persists is damage
        (``IndexDamaged``), or a full disk (``NoSpace``) when little room is left.
        """
        for attempt in (1, 2):
            conn: _Connection | None = None
            try:
                conn = self._acquire(live)
                try:
                    return fn(conn.collection)
                finally:
                    _SYSTEMS.end(conn.key)
            except CitebotError:
                raise
            except Exception as exc:
                from chromadb.errors import InternalError, NotFoundError  # loaded by now: a call was made

                if self.settings.chroma_host and _is_connection_error(exc):
                    self.reopen()
                    raise StoreUnavailable(f"cannot reach the Chroma server at {self.where}") from exc
                dims = _DIMENSION.search(str(exc))
                if dims:
                    raise UsageError(
                        f"the index at {self.where} (collection {self.settings.collection!r}) holds {dims[1]}-"
                        f"dimension vectors but the embedding model makes {dims[2]}: index into a new --db or "
                        "collection, or use the model it was built with"
                    ) from exc
                local = not self.settings.chroma_host
                if local:
                    full = self._no_space(exc, conn)
                    if full is not None:
                        raise full from exc
                private = conn is not None and conn.private  # a copy: nobody changed it under this process
                if attempt == 1 and local and isinstance(exc, InternalError) and not private:
                    log.info("%s changed under this process (%s); reopening it", self.where, exc)
                    self._drop(keep_role=True)
                    continue
                if attempt == 1 and isinstance(exc, NotFoundError):
                    # The collection this client holds was deleted (a server that came back without its
                    # data, a reset): open it again by name, created empty if need be.
                    log.warning("collection %r vanished from %s; opening it again", self.settings.collection,
                                self.where)
                    self._drop(keep_role=True)
                    continue
                if local and isinstance(exc, InternalError):
                    raise IndexDamaged(f"the vector store at {self.where} is damaged ({one_line(exc)})",
                                       probe.REPAIR) from exc
                raise
        raise AssertionError("unreachable")

    def _no_space(self, exc: BaseException, conn: _Connection | None) -> NoSpace | None:
        """A ``NoSpace`` when ``exc`` comes of a full disk (where the directory, or the copy read, lives)."""
        places = [self.settings.db_path]
        if conn is not None and conn.private and conn.snapshot is not None and conn.snapshot.folder is not None:
            places.append(conn.snapshot.folder)
        said = any(isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT) for e in _chain(exc)) or \
            "disk is full" in " ".join(str(e) for e in _chain(exc)).lower()
        for place in places:
            try:
                free = shutil.disk_usage(place).free
            except OSError:
                continue
            if said or free < LOW_SPACE_BYTES:
                return NoSpace(f"no space left on device at {place} ({free / 2**20:.1f} MiB free) for the index "
                               f"at {self.where}: free some space and try again")
        return None

    def _acquire(self, live: bool = False) -> _Connection:
        """This store's connection with one more call counted on it; a fresh one if it was dropped.

        A local store reads a private copy of its directory until a writer's call (``live``) opens the
        directory itself; from then on every call uses that, its own writes being visible there only."""
        with self._lock:
            if live and not self._live and not self.settings.chroma_host:
                self._live = True
                self._conn = None  # a reader's copy, still leased to _READS for other stores of the directory
            if self._conn is not None and _SYSTEMS.begin(self._conn.key):
                return self._conn
            self._conn = self._connect()
            return self._conn

    def reopen(self) -> None:
        """Read the collection afresh on the next call.

        Embedded Chroma keeps vectors in memory and does not see what another process (a CLI
        re-index beside a running bot) wrote since: its queries miss new chunks and return deleted
        ones. chromadb also shares that state between all clients of one directory in a process
        (another Engine's, or one this Store has not made yet), so that state is dropped for all of
        them; calls already running finish on it, and the last one to end frees it. A server client
        is dropped and freed the same way (after a connection error, for one). A local store goes back
        to reading a private copy, made afresh when the directory changed since the last one.
        """
        self._drop(keep_role=False)

    def _drop(self, keep_role: bool) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            self._counted = None
            if not keep_role:
                self._live = False
            if not self.settings.chroma_host:
                _retire_local(str(self.settings.db_path))
            if conn is not None and not conn.private:  # a copy stays with _READS: looked at again on connecting
                _SYSTEMS.retire(conn.key)

    def _connect(self) -> _Connection:
        """A new client and collection, with its first call counted."""
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if self.settings.chroma_host:
            return self._connect_server(self.settings.chroma_host, chroma_settings)
        if self._live:
            return self._connect_local(chroma_settings)
        return self._connect_reader(chroma_settings)

    def _connect_server(self, host: str, chroma_settings: Any) -> _Connection:
        import chromadb

        s = self.settings
        _heartbeat(s)
        client: Any = chromadb.HttpClient(host=host, port=s.chroma_port, ssl=s.chroma_ssl, settings=chroma_settings)
        _bound_requests(client, s)
        try:
            collection = self._collection_of(client)
        except Exception:
            with contextlib.suppress(Exception):
                client.close()  # each HTTP client owns its own chromadb System; free it
            raise
        return _Connection(client, collection, _SYSTEMS.add(client, client.close))

    def _connect_local(self, chroma_settings: Any) -> _Connection:
        """The directory itself, for a writer: checked in a child first (``_VERDICTS``)."""
        import chromadb

        path = self.settings.db_path
        path.mkdir(parents=True, exist_ok=True)
        verdict = _VERDICTS.of(path, self.settings.collection)
        verdict.raise_if_damaged(self.where)
        if verdict.missing:  # a writer carries on: the lost vectors are found by id and embedded again
            log.info("the vector store at %s lost vectors (%s)", self.where, verdict.missing)
        # Under the lease lock, so that no reopen (of any store of this directory) can drop the shared System
        # between this client joining it and its lease being counted.
        with _SYSTEMS.lock:
            client: Any = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            collection = self._collection_of(client)
            system = _shared_system(str(path))
            if system is None:  # pragma: no cover - a chromadb that moved its internals: nothing to stop
                return _Connection(client, collection, _SYSTEMS.add(client, lambda: None))
            return _Connection(client, collection, _SYSTEMS.add(system, system.stop))

    def _connect_reader(self, chroma_settings: Any) -> _Connection:
        """What a reader opens: the private copy of the directory this process's readers share (``_READS``),
        or a stand-in that answers as an empty collection where there is nothing to open. Creates nothing."""
        import chromadb
        from chromadb.errors import NotFoundError

        try:
            snap = _READS.current(self.settings.db_path, self.settings.collection)
        except OSError as exc:
            raise NoSpace(f"no space left for a private copy of the index at {self.where}, which a reader opens "
                          f"({exc.strerror or exc}): free some space and try again") from exc
        snap.verdict.raise_if_damaged(self.where)
        path = snap.path
        if path is None:
            why = "has no chroma.sqlite3" if not snap.verdict.database else \
                f"has no collection {self.settings.collection!r}"
            return _Connection(None, _Absent(self.where, why), _SYSTEMS.add(snap, lambda: None), snap)
        with _SYSTEMS.lock:  # as in _connect_local
            client: Any = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            try:
                collection: Any = client.get_collection(self.settings.collection, embedding_function=None)
            except NotFoundError:
                collection = _Absent(self.where, f"has no collection {self.settings.collection!r}")
            system = _shared_system(str(path))
            owner = client if system is None else system
            free = partial(_stop_reader, system, snap)
            conn = _Connection(client, collection, _SYSTEMS.add(owner, free), snap)
        if snap.verdict.missing and not isinstance(collection, _Absent):
            return _Connection(client, _Degraded(collection, self.where, snap.verdict.missing), conn.key, snap)
        return conn

    def _collection_of(self, client: Any) -> Any:
        return client.get_or_create_collection(
            self.settings.collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def call(self, fn: Callable[[Any], T], write: bool = False) -> T:
        """``fn(collection)`` with this store's handling of failures (``StoreUnavailable``, timeouts, a reopen):
        for a collection of records rather than chunks (``ledger.py``). ``write``: a writer's call."""
        return self._guard(fn, live=write)

    def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the collection answers. A writer's first call (the indexer's):
        a local directory is opened itself from here on, not a reader's copy."""
        self._guard(lambda col: col.count(), live=True)

    def count(self) -> int:
        return int(self._guard(lambda col: col.count()))

    def _recent_count(self, afresh: bool = False) -> int:
        """The collection size, asked at most once a second (or now, ``afresh``, when the cached one may be
        stale): a query needs it only to size its reach."""
        now = time.monotonic()
        if afresh or self._counted is None or now - self._counted[0] > COUNT_MAX_AGE:
            self._counted = (now, self.count())
        return self._counted[1]

    def upsert(self, chunks: Sequence[StoredChunk]) -> None:
        for i in range(0, len(chunks), _BATCH):
            batch = chunks[i : i + _BATCH]
            self._guard(partial(_upsert_batch, batch=batch), live=True)
            self._changed()

    def get(self, ids: Sequence[str], embeddings: bool = False) -> list[StoredChunk]:
        """Chunks by id, in the order asked, missing ones left out."""
        found: dict[str, StoredChunk] = {}
        include = ["metadatas", "documents"] + (["embeddings"] if embeddings else [])
        for i in range(0, len(ids), _BATCH):
            part = list(ids[i : i + _BATCH])
            res: Any = self._guard(partial(_get_by_id, ids=part, include=include))
            embs = res.get("embeddings") if embeddings else None
            for j, cid in enumerate(res["ids"]):
                emb = embs[j] if embs is not None else None
                found[cid] = StoredChunk.from_chroma(cid, res["metadatas"][j], res["documents"][j], emb)
        return [found[c] for c in ids if c in found]

    def find_by_hash(self, hashes: Sequence[str]) -> dict[str, StoredChunk]:
        """Stored chunks whose embedded text has one of these hashes: their vectors can be reused."""
        out: dict[str, StoredChunk] = {}
        for i in range(0, len(hashes), _BATCH):
            part = list(hashes[i : i + _BATCH])
            res: Any = self._guard(
                partial(_get, where={"hash": {"$in": part}}, include=["metadatas", "documents", "embeddings"])
            )
            for j, cid in enumerate(res["ids"]):
                chunk = StoredChunk.from_chroma(cid, res["metadatas"][j], res["documents"][j], res["embeddings"][j])
                out.setdefault(chunk.hash, chunk)
        return out

    def query(
        self, vector: np.ndarray, n: int, trusted: Collection[str] | None = None, generation: int | None = None,
    ) -> list[tuple[StoredChunk, float]]:
        """The ``n`` nearest chunks with their cosine similarity, best first (``nearest``, then the chunks)."""
        picked = self.nearest(vector, n, trusted, generation)
        chunks = {c.id: c for c in self.fetch([cid for cid, _ in picked])}
        return [(chunks[cid], cos) for cid, cos in picked if cid in chunks]

    def fetch(self, ids: Sequence[str], embeddings: bool = False) -> list[StoredChunk]:
        """``get`` for readers: chunks another process deleted since this one loaded the directory are left
        out now, and the directory is read afresh for the next question."""
        found = self.get(ids, embeddings)
        if len(found) < len(set(ids)) and not self.settings.chroma_host:
            self._drop(keep_role=True)
        return found

    def nearest(
        self, vector: np.ndarray, n: int, trusted: Collection[str] | None = None, generation: int | None = None,
    ) -> list[tuple[str, float]]:
        """The ids of the ``n`` nearest chunks with their cosine similarity, best first; with ``trusted`` (the
        ids of the committed chunks), the ``n`` nearest trusted ones, exactly, whatever else the collection holds.
        Ids only: a question fetches just the few it goes on to score.

        A re-index in progress (or a killed one) leaves uncommitted chunks in Chroma, and a commit leaves the
        stale ones it deletes next: any number of them may sit nearer a question than every committed chunk
        (issue 12: a killed 32,000-chunk re-index changed 25-30 of 50 answers). So the search reaches as many
        neighbours further (than MIN_REACH at least, which makes it exact) as the collection holds untrusted
        chunks, and further (x REACH_GROWTH) while fewer
        than ``n`` trusted ones are among those found: among the k nearest, the nearest trusted ones are the
        nearest trusted overall. Past MAX_UNFILTERED_REACH untrusted chunks, the search leaves out those of
        ``generation + 1`` (the generation being written, ``StoredChunk.generation``) with a metadata filter,
        slower per search but bounded; chunks stored before chunks carried a generation are never left out.
        An index that lists chunks (``trusted``) in an empty or missing collection is ``IndexDamaged``.
        """
        total = self._recent_count()
        if total == 0 and trusted:
            total = self._recent_count(afresh=True)  # a size cached before this process (or another) filled it
        if total == 0:
            # A local directory emptied under its index (chroma.sqlite3 deleted), or a server that came back
            # without its data, is damage: said in one line, never a silent "No answer"; `citebot index` fills it.
            if trusted:
                why = self._guard(lambda col: col.why if isinstance(col, _Absent) else "is empty")
                raise IndexDamaged(f"the index lists {len(trusted)} chunks but the vector store at {self.where} "
                                   f"{why}", "run `citebot index` (or `citebot check --repair`) to embed them again")
            return []
        if trusted is None:
            picked = self._nearest(vector, min(max(n, MIN_REACH), total), None)[:n]
        else:
            untrusted = max(total - len(trusted), 0)
            where = None
            if untrusted > MAX_UNFILTERED_REACH and generation is not None:
                where = {"gen": {"$ne": generation + 1}}
            reach = min(max(n + min(untrusted, MAX_UNFILTERED_REACH), MIN_REACH), total)
            while True:
                found = self._nearest(vector, reach, where)
                picked = [(cid, dist) for cid, dist in found if cid in trusted][:n]
                if len(picked) >= n or len(found) < reach:
                    break
                if reach >= total:
                    # As many found as asked, all there is by a size up to COUNT_MAX_AGE old: another
                    # process may have written since (a server's re-index), so the size is asked afresh.
                    total = self._recent_count(afresh=True)
                    if reach >= total:
                        break
                reach = min(reach * REACH_GROWTH, total)
        return [(cid, 1.0 - dist) for cid, dist in picked]

    def _nearest(self, vector: np.ndarray, k: int, where: dict[str, Any] | None) -> list[tuple[str, float]]:
        """Ids and cosine distances of the ``k`` nearest chunks, nearest first and ties by id (ids only: the few
        kept are fetched after)."""
        res = self._guard(
            lambda col: col.query(query_embeddings=vector.reshape(1, -1), n_results=k, where=where,
                                  include=["distances"])
        )
        found = [(str(cid), float(dist)) for cid, dist in zip(res["ids"][0], res["distances"][0], strict=True)]
        return sorted(found, key=lambda hit: (hit[1], hit[0]))

    def all_ids(self) -> list[str]:
        ids: list[str] = []
        offset = 0
        while True:
            res: Any = self._guard(partial(_get, include=[], limit=_ID_PAGE, offset=offset))
            ids.extend(res["ids"])
            if len(res["ids"]) < _ID_PAGE:
                return ids
            offset += _ID_PAGE

    def delete(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), _BATCH):
            part = list(ids[i : i + _BATCH])
            self._guard(partial(_delete, ids=part), live=True)
            self._changed()

    def _changed(self) -> None:
        """This process changed a local directory: the copy other stores of it read is out of date, and each
        makes a new one on its next call (the writer itself reads the directory). Its own cached size is out of
        date too: a search sized by it would reach too few neighbours past the chunks just written."""
        self._counted = None
        if not self.settings.chroma_host:
            _READS.drop(self.settings.db_path, self.settings.collection)

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` the collection holds, found by id: ids only (no text, no vectors), one call a page.
        Unlike ``count``, not fooled by chunks no manifest owns (issue 12: 0.1-0.2 s for 20,000 ids, local)."""
        found: set[str] = set()
        for i in range(0, len(ids), _BATCH):
            res: Any = self._guard(partial(_get, ids=list(ids[i : i + _BATCH]), include=[]))
            found.update(res["ids"])
        return found

    def missing_vectors(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` (ids the collection holds) have no readable vector: the vector index lost them
        (its HNSW folder deleted, or restored from an older backup than the database), found by id.

        Chroma refuses a whole ``get`` when one id asked has no vector, so a refused page is halved until the
        pieces answer or are small enough (``_VECTOR_PIECE``) to count as lost whole: re-embedding a few chunks
        too many costs little, asking for each lost one alone would cost a call per chunk.
        """
        missing: set[str] = set()
        pending = [list(ids[i : i + _BATCH]) for i in range(0, len(ids), _BATCH)]
        while pending:
            part = pending.pop()
            if self._guard(partial(_vectors_readable, ids=part)):
                continue
            if len(part) <= _VECTOR_PIECE:
                missing.update(part)
            else:
                half = len(part) // 2
                pending += [part[:half], part[half:]]
        return missing


# Smallest piece of a refused page ``Store.missing_vectors`` still halves: a 1,000-id page with every vector lost
# costs 31 calls to mark lost instead of 1,999; chosen by hand, not tuned.
_VECTOR_PIECE = 64


def _vectors_readable(col: Any, ids: list[str]) -> bool:
    """Whether Chroma hands back a vector for every one of ``ids`` it holds (chromadb 1.5 fails the whole call
    with an ``InternalError``, "Error finding id", when the vector index lacks one)."""
    from chromadb.errors import InternalError

    try:
        res = col.get(ids=ids, include=["embeddings"])
    except InternalError:
        return False
    vectors = res.get("embeddings")
    if vectors is None:
        return not res["ids"]
    return len(vectors) == len(res["ids"]) and all(v is not None and len(v) for v in vectors)


def _get(col: Any, **kwargs: Any) -> Any:
    return col.get(**kwargs)


def _get_by_id(col: Any, ids: list[str], include: list[str]) -> Any:
    """Chunks by id: from a collection that is not there, when the caller expects some, an error rather than
    nothing (a keyword hit the vector store cannot hand back would end in a silent "No answer")."""
    if isinstance(col, _Absent) and ids:
        raise IndexDamaged(f"the vector store at {col.where} {col.why}, though the index lists chunks",
                           "run `citebot index` (or `citebot check --repair`) to embed them again")
    return col.get(ids=ids, include=include)


def _delete(col: Any, ids: list[str]) -> None:
    col.delete(ids=ids)


def _upsert_batch(col: Any, batch: Sequence[StoredChunk]) -> None:
    col.upsert(
        ids=[c.id for c in batch],
        embeddings=np.stack([c.embedding for c in batch]),  # type: ignore[misc]
        documents=[c.text for c in batch],
        metadatas=[c.metadata() for c in batch],
    )


def _server_url(settings: Settings) -> str:
    host = settings.chroma_host or ""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{'https' if settings.chroma_ssl else 'http'}://{host}:{settings.chroma_port}"


def _heartbeat(settings: Settings) -> None:
    """Fail fast on a server that accepts connections but never answers (hung, stopped, overloaded):
    chromadb's own first requests, made while its client is built, would wait forever. Bounded by the same
    ``chroma_timeout`` as every later request, so a fresh process (the CLI) and a long-lived one (the bot)
    give up on a stalled server equally soon."""
    import httpx

    url = f"{_server_url(settings)}/api/v2/heartbeat"
    httpx.get(url, timeout=settings.chroma_timeout)  # any status will do: it answered


def _bound_requests(client: Any, settings: Settings) -> None:
    """chromadb's HTTP session has no timeout at all: give every request ``chroma_timeout`` (connecting, sending,
    waiting for each read), writes ``WRITE_TIMEOUT`` (chromadb internals, checked against 1.5 by
    tests/index/test_faults_server.py; without them requests stay unbounded)."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(settings.chroma_timeout)
        writes = httpx.Timeout(max(WRITE_TIMEOUT, settings.chroma_timeout)).as_dict()

        def wait_longer_for_writes(request: httpx.Request) -> None:
            if request.url.path.endswith(_WRITE_PATHS):
                request.extensions["timeout"] = writes  # read by the transport when it sends the request

        hooks = session.event_hooks
        session.event_hooks = {**hooks, "request": [*hooks.get("request", []), wait_longer_for_writes]}
    else:  # pragma: no cover - a chromadb that moved its internals
        log.warning("cannot bound the Chroma client's request time: a hung server may block requests")


def _retire_local(path: str) -> None:
    """Take the System chromadb shares for the local directory ``path`` out of its cache, so the next client
    loads the directory from disk, and free it once idle (unless no store of citebot's opened it)."""
    with _SYSTEMS.lock:
        system = _forget_shared_system(path)
        if system is not None:
            _SYSTEMS.retire(id(system))


def _shared_system(path: str) -> Any:
    """The System chromadb shares between this process's clients of the local directory ``path``, or None.

    Uses chromadb internals (checked against 1.5 by tests/index/test_store.py).
    """
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        with SharedSystemClient._refcount_lock:
            return SharedSystemClient._identifier_to_system.get(path)
    except (ImportError, AttributeError):  # pragma: no cover - a chromadb that moved its internals
        log.warning("cannot find chromadb's state of %s: a reopen will not free it", path)
        return None


def _forget_shared_system(path: str) -> Any:
    """Drop chromadb's per-process cached state of a local directory so the next client loads it from disk;
    returns the System dropped, for the caller to stop.

    Uses chromadb internals (checked against 1.5 by tests/index/test_store.py); without them a reopen merely
    reuses the stale state. The reference count goes too: the dropped System's clients are never closed
    (closing one would count down the fresh System of the same directory); citebot stops it instead.
    """
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        with SharedSystemClient._refcount_lock:
            SharedSystemClient._identifier_to_refcount.pop(path, None)
            return SharedSystemClient._identifier_to_system.pop(path, None)
    except (ImportError, AttributeError):  # pragma: no cover - a chromadb that moved its internals
        log.warning("cannot drop chromadb's cached state of %s: another process's writes may stay unseen", path)
        return None

"""The state folder (citebot's sidecar beside Chroma) and the committed state of an index in it.

Layout of the folder, all of it decided here:
- ``manifest.json``: the committed manifest (which files, at which content hash, own which chunk ids);
- ``keyword-N/``: the keyword index of generation N (``keyword-N.tmp/`` while it is written);
- ``dirty``: present while a run may have left uncommitted chunks in Chroma;
- ``index.lock``: the writer lock;
- ``manifest.json.damaged-TIME``: a manifest that could not be read, set aside by the run that started over.

Chroma may hold chunks that are not (yet, or any more) committed: a run writes new chunks first,
then swaps the manifest in one atomic rename, then deletes what the old manifest owned. Readers
trust only ids in the manifest, so a run that dies at any point leaves the last good index
answering exactly as before, and the next run collects the orphans.

Where the committed state lives is a ``Ledger``: in embedded mode this folder (``FolderLedger``, the functions
below); on a Chroma server the server itself (``ledger.ChromaLedger``), so that every replica that reaches the
server sees each commit, and this folder is only a cache of keyword indexes that may be deleted at any time.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from pydantic import TypeAdapter, ValidationError

from .errors import IndexBusy, IndexDamaged

MANIFEST = "manifest.json"
LOCK = "index.lock"
DIRTY = "dirty"
DAMAGED = ".damaged-"  # a damaged manifest set aside is named manifest.json.damaged-<UTC time>
KEYWORD_PREFIX = "keyword-"
_UNFINISHED = ".tmp"  # suffix of a keyword folder still being written (KeywordIndex.save renames it when whole)
# Keyword indexes kept after a commit: the new generation's and the one before, which a reader that read the
# previous manifest just before the commit may still be loading (it retries on the new one if it is gone).
KEYWORD_GENERATIONS_KEPT = 2
_MTIME_STEP_NS = 1_000_000  # 1 ms: how far a commit moves the manifest's mtime at least; well above the
# float precision of ``mtime()`` and any file system's timestamp resolution we know of
_LOCK_POLL = 0.1  # seconds between tries while waiting for the writer lock; a re-index takes seconds at least
_LOCK_HOLDER_BYTES = 64  # the lock file holds its holder's pid; read no more than that


def keyword_dir(state_dir: Path, generation: int) -> Path:
    """Where the keyword index of ``generation`` lives."""
    return state_dir / f"{KEYWORD_PREFIX}{generation}"


def old_keyword_dirs(state_dir: Path, generation: int) -> list[Path]:
    """Keyword folders a commit of ``generation`` no longer needs: older generations than the kept ones,
    unfinished ones left by a killed run, and any whose name is not a generation number."""
    keep_from = generation - (KEYWORD_GENERATIONS_KEPT - 1)
    old = []
    for folder in state_dir.glob(f"{KEYWORD_PREFIX}*"):
        number = folder.name.removeprefix(KEYWORD_PREFIX).removesuffix(_UNFINISHED)
        if not number.isdigit() or int(number) < keep_from:
            old.append(folder)
    return old


def latest_keyword_generation(state_dir: Path) -> int:
    """The highest generation any keyword folder here is named for (0 when none is): a run that starts over
    from a damaged manifest numbers its generation past it, so that no reader can take an old folder for it."""
    numbers = [folder.name.removeprefix(KEYWORD_PREFIX).removesuffix(_UNFINISHED)
               for folder in state_dir.glob(f"{KEYWORD_PREFIX}*")]
    return max((int(n) for n in numbers if n.isdigit()), default=0)


def is_dirty(state_dir: Path) -> bool:
    """Whether a run may have left uncommitted chunks in Chroma (one died, or is running)."""
    return (state_dir / DIRTY).exists()


def mark_dirty(state_dir: Path) -> None:
    """Say, before writing anything to Chroma, that uncommitted chunks may be left there."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / DIRTY).touch()


def clear_dirty(state_dir: Path) -> None:
    """Say that Chroma holds nothing but the committed chunks again."""
    (state_dir / DIRTY).unlink(missing_ok=True)


@dataclass
class FileEntry:
    sha256: str  # of the file's bytes as indexed ("" when it must be read again: Plan.kept_files)
    chunks: list[str]
    # The cross-references its chunks show, each with the title shown ("" for none: ``xref.py``): the file
    # is read again when one reads differently. Absent from manifests written before there were any.
    refs: dict[str, str] = field(default_factory=dict)


@dataclass
class Manifest:
    generation: int = 0
    signature: str = ""
    model: str = ""
    root: str = ""
    built_at: float = 0.0
    files: dict[str, FileEntry] = field(default_factory=dict)
    writer: str = ""  # process_token() of the process that committed it

    def chunk_ids(self) -> list[str]:
        return [cid for entry in self.files.values() for cid in entry.chunks]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse and check the shape (types of every field, down to each chunk id); ``ValueError`` says
        what is wrong in one line."""
        try:
            manifest = _MANIFEST_SHAPE.validate_json(text)
        except ValidationError as exc:
            raise ValueError(_first_error(exc)) from None
        if manifest.generation < 1:  # every commit is generation 1 or later: this one was never written whole
            raise ValueError(f"generation: {manifest.generation}, where every commit numbers 1 or more")
        return manifest


# Validates the whole nested shape in one pass (pydantic's JSON parser, in Rust): a manifest of 20,000 chunks is
# read on every commit a reader notices, so this is not hand-written field by field. Unknown keys are ignored, so
# a manifest written by a later version with more fields still loads.
_MANIFEST_SHAPE = TypeAdapter(Manifest)


def _first_error(exc: ValidationError) -> str:
    """The first thing pydantic found wrong, with where: ``files: Input should be a valid dictionary``."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


_token: tuple[int, str] | None = None


def process_token() -> str:
    """Names this process in the manifests it commits, unlike a pid, which two containers can share."""
    global _token
    if _token is None or _token[0] != os.getpid():
        _token = (os.getpid(), f"{os.getpid()}-{uuid.uuid4().hex[:12]}")
    return _token[1]


def load(state_dir: Path) -> Manifest | None:
    """The committed manifest, or None before the first successful run; ``IndexDamaged`` when it cannot be
    read (truncated, garbage, the wrong shape)."""
    path = state_dir / MANIFEST
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return Manifest.from_json(text)
    except ValueError as exc:
        raise IndexDamaged(
            f"the manifest {path} is damaged ({exc})",
            "`citebot index DIR` (or `citebot check --repair DIR`) sets it aside and indexes DIR again from scratch, "
            "reusing the vectors Chroma holds",
        ) from None


def set_aside(state_dir: Path) -> Path:
    """Move a manifest that cannot be read out of the way, keeping it for a post-mortem; returns where it went."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = state_dir / f"{MANIFEST}{DAMAGED}{stamp}"
    n = 1
    while aside.exists():  # two start-overs within one second
        n += 1
        aside = state_dir / f"{MANIFEST}{DAMAGED}{stamp}-{n}"
    os.replace(state_dir / MANIFEST, aside)
    return aside


def save(state_dir: Path, manifest: Manifest) -> None:
    """Write then rename, with fsyncs, so a reader or a crash sees the old file or the new one, never half."""
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f".{MANIFEST}.{os.getpid()}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(manifest.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    _advance_mtime(tmp, state_dir / MANIFEST)
    os.replace(tmp, state_dir / MANIFEST)
    dir_fd = os.open(state_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _advance_mtime(new: Path, current: Path) -> None:
    """Readers notice a commit by the manifest's mtime: make sure it moves forward even when two commits
    land within one tick of a coarse file-system clock, or the clock stepped back."""
    try:
        before = current.stat().st_mtime_ns
    except FileNotFoundError:
        return
    if new.stat().st_mtime_ns <= before:
        later = before + _MTIME_STEP_NS
        os.utime(new, ns=(later, later))


def touch(state_dir: Path) -> None:
    """Move the manifest's mtime forward without changing it: tells readers in other processes that the
    store changed under them (stale chunks deleted after a commit) so they reload it."""
    path = state_dir / MANIFEST
    try:
        before = path.stat().st_mtime_ns
    except FileNotFoundError:
        return
    later = max(time.time_ns(), before + _MTIME_STEP_NS)
    os.utime(path, ns=(later, later))


def mtime(state_dir: Path) -> float:
    """Cheap change check for readers that cache the manifest."""
    try:
        return (state_dir / MANIFEST).stat().st_mtime_ns / 1e9
    except FileNotFoundError:
        return 0.0


@contextmanager
def writer_lock(state_dir: Path, wait: float = 0.0) -> Iterator[None]:
    """One writer at a time across processes; the kernel drops the lock when its holder dies, so no stale locks."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, _LOCK_HOLDER_BYTES, 0).decode(errors="replace").strip() or "another process"
                    raise IndexBusy(f"another re-index is running (pid {holder}); try again when it ends") from None
                time.sleep(_LOCK_POLL)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class Ledger(Protocol):
    """Where an index's committed state lives and how its one writer is chosen (see the module docstring).

    ``state_dir`` is the local folder of this process's keyword indexes (in server mode a cache only).
    """

    state_dir: Path
    where: str  # the committed state's place, as messages name it
    # Whether keyword folders are this process's own cache (server mode: rebuilt from the stored chunks when
    # missing, never damage) rather than part of the committed index (embedded mode: written by the indexer).
    keyword_cache: bool

    def load(self) -> Manifest | None:
        """The committed manifest (None before the first commit); ``IndexDamaged`` when it cannot be read."""

    def stamp(self) -> Hashable:
        """A cheap token that changes whenever a commit lands (or ``touch`` is called)."""

    def save(self, manifest: Manifest) -> None:
        """Commit ``manifest``: readers see the old one or the new one, never part of either."""

    def touch(self) -> None:
        """Tell readers to look again though the manifest did not change (the store or keyword index did)."""

    def set_aside(self) -> str:
        """Keep a manifest that cannot be read out of the way (for a post-mortem); says where it went."""

    def generation_floor(self) -> int:
        """The highest generation anything of this index is numbered for, readable or not (0 when none)."""

    def is_dirty(self) -> bool: ...

    def mark_dirty(self) -> None: ...

    def clear_dirty(self) -> None: ...

    def lock(self, wait: float = 0.0) -> AbstractContextManager[None]:
        """Be the one writer while the context lasts; ``IndexBusy`` (with the holder) after ``wait`` seconds."""


class FolderLedger:
    """The committed state in the state folder itself (embedded mode): the module's functions above."""

    keyword_cache = False

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.where = str(state_dir / MANIFEST)

    def load(self) -> Manifest | None:
        return load(self.state_dir)

    def stamp(self) -> Hashable:
        return mtime(self.state_dir)

    def save(self, manifest: Manifest) -> None:
        save(self.state_dir, manifest)

    def touch(self) -> None:
        touch(self.state_dir)

    def set_aside(self) -> str:
        return set_aside(self.state_dir).name

    def generation_floor(self) -> int:
        return latest_keyword_generation(self.state_dir)

    def is_dirty(self) -> bool:
        return is_dirty(self.state_dir)

    def mark_dirty(self) -> None:
        mark_dirty(self.state_dir)

    def clear_dirty(self) -> None:
        clear_dirty(self.state_dir)

    def lock(self, wait: float = 0.0) -> AbstractContextManager[None]:
        return writer_lock(self.state_dir, wait)


@dataclass(frozen=True)
class Commit:
    """The committed state as one reader last saw it."""

    stamp: Hashable  # the ledger's stamp (for a folder, the manifest's mtime) when it was read
    manifest: Manifest | None  # None before the first successful run


CommitCheck = Callable[[Manifest | None], None]


class CommitWatch:
    """The one place a reader learns that a new commit landed: one cheap look (a stat, or one small record
    of a Chroma server) per question, the manifest read once per commit however many parts of the reader
    look, and the checks that must run once per commit (reopen a store another process wrote, refuse an
    index of another model) hung on it.

    Shared by an Engine and its Searcher; safe to share between threads.
    """

    def __init__(self, ledger: Ledger | Path) -> None:
        self.ledger: Ledger = FolderLedger(ledger) if isinstance(ledger, Path) else ledger
        self.state_dir = self.ledger.state_dir
        self._lock = threading.Lock()
        self._checks: list[CommitCheck] = []
        self._seen: Commit | None = None

    def on_commit(self, check: CommitCheck) -> None:
        """Run ``check`` on each newly seen manifest before anyone is given it; when it raises, the commit
        is not taken and the next look tries again (and raises again while the cause stays)."""
        self._checks.append(check)

    def seen(self) -> Commit | None:
        """The commit the last look found (None before any), without looking again."""
        return self._seen

    def stamp(self) -> Hashable:
        """The ledger's stamp now: compare two to tell whether a commit landed in between."""
        return self.ledger.stamp()

    def latest(self) -> Commit:
        """The committed state now, read again only when the stamp moved since the last look."""
        with self._lock:
            stamp = self.ledger.stamp()  # before reading: a commit landing in between is seen next time
            if self._seen is not None and self._seen.stamp == stamp:
                return self._seen
            manifest = self.ledger.load()
            for check in self._checks:
                check(manifest)
            self._seen = Commit(stamp, manifest)
            return self._seen

"""The state folder (citebot's sidecar beside Chroma) and the committed state of an index in it.

Layout of the folder, all of it decided here:
- ``manifest.json``: the committed manifest (which files, at which content hash, own which chunk ids);
- ``keyword-N/``: the keyword index of generation N (``keyword-N.tmp/`` while it is written);
- ``dirty``: present while a run may have left uncommitted chunks in Chroma;
- ``index.lock``: the writer lock.

Chroma may hold chunks that are not (yet, or any more) committed: a run writes new chunks first,
then swaps the manifest in one atomic rename, then deletes what the old manifest owned. Readers
trust only ids in the manifest, so a run that dies at any point leaves the last good index
answering exactly as before, and the next run collects the orphans.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import IndexBusy

MANIFEST = "manifest.json"
LOCK = "index.lock"
DIRTY = "dirty"
KEYWORD_PREFIX = "keyword-"


def keyword_dir(state_dir: Path, generation: int) -> Path:
    """Where the keyword index of ``generation`` lives."""
    return state_dir / f"{KEYWORD_PREFIX}{generation}"


@dataclass
class FileEntry:
    sha256: str
    chunks: list[str]


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
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        files = {k: FileEntry(**v) for k, v in data.pop("files", {}).items()}
        return cls(files=files, **data)


_token: tuple[int, str] | None = None


def process_token() -> str:
    """Names this process in the manifests it commits, unlike a pid, which two containers can share."""
    global _token
    if _token is None or _token[0] != os.getpid():
        _token = (os.getpid(), f"{os.getpid()}-{uuid.uuid4().hex[:12]}")
    return _token[1]


def load(state_dir: Path) -> Manifest | None:
    """The committed manifest, or None before the first successful run."""
    try:
        return Manifest.from_json((state_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


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
        later = before + 1_000_000  # 1 ms: well above the float precision of ``mtime()``
        os.utime(new, ns=(later, later))


def touch(state_dir: Path) -> None:
    """Move the manifest's mtime forward without changing it: tells readers in other processes that the
    store changed under them (stale chunks deleted after a commit) so they reload it."""
    path = state_dir / MANIFEST
    try:
        before = path.stat().st_mtime_ns
    except FileNotFoundError:
        return
    later = max(time.time_ns(), before + 1_000_000)
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
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
                    raise IndexBusy(f"another re-index is running (pid {holder}); try again when it ends") from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

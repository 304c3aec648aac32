"""Private read copies of a local Chroma directory: how a reader reads it without writing to it (issue 12).

chromadb 1.5 writes to a directory whenever a client opens it: every open inserts a row into its
``acquire_write`` table (its write lock), applies migrations, and replays its log into the segments (an
``ask`` after a killed re-index grew chroma.sqlite3 from 30 to 35 MB). On read-only media the open fails
outright ("attempt to write a readonly database"), and on a full disk the replay fails. So a reader (``ask``,
the bot between its own re-indexes) opens a private copy: the child of ``probe.py`` copies the directory
consistently (the database under a read transaction) into a folder of its own under the temporary
directory, checks it there, and the reader opens the copy; the original is only ever read.

A copy costs its size in temporary space (20,000 chunks: 92 MB) and ~0.1 s per 100 MB from the page cache.
Above ``MAX_COPY_BYTES`` a writable directory is read in place as before (chromadb then writes its lock row);
a read-only one is copied whatever its size, since it cannot be opened otherwise. When no temporary place has
room (the disk is full), ``/dev/shm`` is tried, then reading in place.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import probe

log = logging.getLogger(__name__)
PREFIX = "citebot-read-"
IN_USE = ".in-use"  # a copy's lock file: its owner holds a shared lock on it for the copy's life
# Copying 1 GiB takes ~1 s from the page cache and several from disk, on top of every CLI ask: above it a
# writable directory is read in place. Not tuned; 20,000 chunks of the bundled model take ~0.1 GiB.
MAX_COPY_BYTES = 1 << 30
# A copy folder whose lock nobody holds was left by a reader that was killed; younger than this it may be one
# whose owner has made the folder and not yet locked it.
STALE_AFTER_S = 60.0
SHARED_MEMORY = Path("/dev/shm")  # tried when the temporary directory has no room (Linux)
Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass(eq=False)
class Snapshot:
    """What a reader of ``source`` opens: a private copy (``folder``), the source itself (``in_place``), or
    nothing (neither: no database or no collection there, or ``verdict.damaged``)."""

    source: Path
    fingerprint: Fingerprint
    verdict: probe.Verdict
    folder: Path | None = None
    in_place: bool = False
    _lock_fd: int | None = field(default=None, repr=False)

    @property
    def path(self) -> Path | None:
        """The directory to open, or None when there is nothing to open."""
        return self.source if self.in_place else self.folder

    def discard(self) -> None:
        """Delete the copy (call once Chroma no longer uses it)."""
        with _LIVE_LOCK:
            _LIVE.discard(self)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None


_LIVE: set[Snapshot] = set()  # copies this process made and has not discarded: removed at exit
_LIVE_LOCK = threading.Lock()


def take(source: Path, collection: str) -> Snapshot:
    """Something a reader of the local Chroma directory ``source`` can open without writing to it, checked
    by ``probe.examine`` (whose verdict says whether it is damaged).

    Raises OSError (ENOSPC) when no copy can be made anywhere and ``source`` cannot be read in place."""
    fingerprint = probe.fingerprint(source)
    writable = os.access(source, os.W_OK)
    if not (source / "chroma.sqlite3").exists():  # nothing to copy: nothing indexed, or the database deleted
        return Snapshot(source, fingerprint, probe.Verdict(database=False, collection=False))
    if writable and probe.directory_bytes(source) > MAX_COPY_BYTES:
        log.info("%s is larger than %d bytes: reading it in place", source, MAX_COPY_BYTES)
        return Snapshot(source, fingerprint, probe.examine(source, collection), in_place=True)
    problems = []
    for base in _places():
        try:
            folder, lock_fd = _new_folder(base)
        except OSError as exc:
            problems.append(f"{base}: {exc.strerror or exc}")
            continue
        snap = Snapshot(source, fingerprint, probe.Verdict(), folder, _lock_fd=lock_fd)
        with _LIVE_LOCK:
            _LIVE.add(snap)
        try:
            snap.verdict = probe.examine(source, collection, copy_to=folder)
        except OSError as exc:
            snap.discard()
            problems.append(f"{base}: {exc.strerror or exc}")
            continue
        if snap.verdict.damaged or not snap.verdict.collection:
            snap.discard()  # nothing to open in it
        return snap
    if writable:
        log.warning("no room for a private copy of %s (%s): reading it in place", source, "; ".join(problems))
        return Snapshot(source, fingerprint, probe.examine(source, collection), in_place=True)
    raise OSError(errno.ENOSPC, f"no room for a private copy ({'; '.join(problems)})", str(source))


def _places() -> list[Path]:
    places = [Path(tempfile.gettempdir())]
    if SHARED_MEMORY.is_dir() and SHARED_MEMORY not in places:
        places.append(SHARED_MEMORY)
    return places


def _new_folder(base: Path) -> tuple[Path, int]:
    """A fresh copy folder under ``base``, locked as in use; stale ones left by killed readers go first."""
    _sweep(base)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))
    try:
        fd = os.open(folder / IN_USE, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    fcntl.flock(fd, fcntl.LOCK_SH)
    return folder, fd


def _sweep(base: Path) -> None:
    """Remove copy folders under ``base`` whose owner is gone (its lock is free), older than STALE_AFTER_S.
    The lock, not a pid, tells: a pid may be another container's, or reused."""
    now = time.time()
    for folder in base.glob(f"{PREFIX}*"):
        try:
            if now - folder.stat().st_mtime < STALE_AFTER_S:
                continue
            fd = os.open(folder / IN_USE, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # in use
        finally:
            os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)


@atexit.register
def _discard_all() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for snap in live:
        snap.discard()

"""Crash isolation for local Chroma directories: look at one in a child process before this process opens it.

Chroma's native code trusts its files: a damaged HNSW segment (garbage in ``data_level0.bin``) segfaults the
process that loads it, and no ``except`` can turn that into a message. So the first time a process opens a
local directory, and again whenever its files changed, ``probe_child.py`` opens it first, in a child that
checks the persisted HNSW graph, loads the collection and searches it once: a child that dies by a signal, or
fails, means the directory is damaged, said in one line, and this process never touches it.

A reader asks the child to copy the directory first (``examine(..., copy_to=...)``) and opens the copy: see
``snapshot.py``. Costs (measured on 2 busy cores): ~0.05 s while every vector is still in Chroma's log (small
indexes), ~0.2 s for a 30-chunk index with persisted vectors, ~0.8 s for 20,000 chunks (92 MB, the copy
included); a warm process pays it once per change of the files (the bot: at start and after each commit).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import IndexDamaged

log = logging.getLogger(__name__)
CHILD = Path(__file__).with_name("probe_child.py")
EXIT_NO_ROOM = 3  # probe_child.EXIT_NO_ROOM: the copy ran out of space
# Seconds a child may take: the base covers starting Python and loading a medium index on a slow machine
# (measured 0.2-1 s here); each GiB of the directory adds time to copy and load it (~1 s per GiB measured
# from the page cache, ~5-10 s from a slow disk). A child still running then counts as hung: damage.
TIMEOUT_BASE_S = 60.0
TIMEOUT_PER_GIB_S = 60.0
REPAIR = "run `citebot check --repair`, or re-index into a fresh --db"


@dataclass(frozen=True)
class Verdict:
    """What the child found in a local Chroma directory."""

    database: bool = True  # chroma.sqlite3 exists
    collection: bool = True  # the collection exists in it
    missing: str = ""  # persisted vector files that are gone: searches would miss vectors without an error
    damaged: str = ""  # why Chroma cannot open it (a crash, a hang or an error); empty when it opens

    def raise_if_damaged(self, where: str) -> None:
        if self.damaged:
            raise IndexDamaged(f"the vector store at {where} is damaged ({self.damaged})", REPAIR)


def examine(source: Path, collection: str, copy_to: Path | None = None) -> Verdict:
    """Open the local Chroma directory ``source`` in a child process and say what happened; with ``copy_to``
    (an empty folder), the child copies ``source`` there consistently and opens the copy, so that nothing
    under ``source`` is written. Raises OSError when the copy ran out of space or of a writable place."""
    size = directory_bytes(source)
    timeout = TIMEOUT_BASE_S + TIMEOUT_PER_GIB_S * size / 2**30
    command = [sys.executable, "-I", str(CHILD), "copy" if copy_to else "open", str(source), str(copy_to or ""),
               collection]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False,
                              env=_child_env())
    except subprocess.TimeoutExpired:
        return Verdict(damaged=f"Chroma did not open it within {timeout:.0f} s")
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode < 0:
        return Verdict(damaged=f"Chroma crashed opening it: {_signal_name(-proc.returncode)}")
    try:
        found = json.loads(last)
    except json.JSONDecodeError:
        found = None
    if proc.returncode == EXIT_NO_ROOM and isinstance(found, dict):
        raise OSError(int(found.get("errno") or 0), str(found.get("error", "cannot copy")), str(copy_to))
    if proc.returncode != 0 or not isinstance(found, dict):
        why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return Verdict(damaged=f"the check of it failed: {why}")
    verdict = Verdict(bool(found["database"]), bool(found["collection"]), str(found["missing"]),
                      str(found["damaged"]))
    log.debug("examined %s (%d bytes): %s", source, size, verdict)
    return verdict


def directory_bytes(source: Path) -> int:
    """What Chroma keeps under ``source`` (its database and segment folders), in bytes; 0 when absent."""
    total = 0
    try:
        entries = list(os.scandir(source))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_file():
                total += entry.stat().st_size
            elif entry.is_dir() and _is_segment(entry.name):
                total += sum(f.stat().st_size for f in os.scandir(entry.path) if f.is_file())
        except OSError:
            continue
    return total


def fingerprint(source: Path) -> tuple[tuple[str, int, int], ...]:
    """Size and modification time of every file Chroma keeps under ``source``: when it is unchanged, so is
    what a child found there (and a private copy of it still holds the same state)."""
    out: list[tuple[str, int, int]] = []
    try:
        entries = sorted(os.scandir(source), key=lambda e: e.name)
    except OSError:
        return ()
    for entry in entries:
        try:
            if entry.name.startswith("chroma.sqlite3"):
                info = entry.stat()
                out.append((entry.name, info.st_size, info.st_mtime_ns))
            elif entry.is_dir() and _is_segment(entry.name):
                for f in sorted(os.scandir(entry.path), key=lambda e: e.name):
                    info = f.stat()
                    out.append((f"{entry.name}/{f.name}", info.st_size, info.st_mtime_ns))
        except OSError:  # removed while looked at: the next look sees the new state
            continue
    return tuple(out)


def _is_segment(name: str) -> bool:
    """Chroma names each segment folder by the segment's UUID (36 characters, 4 dashes)."""
    return len(name) == 36 and name.count("-") == 4


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("ANONYMIZED_TELEMETRY", "False")
    return env


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"

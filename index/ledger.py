"""The committed state of an index on a Chroma server, kept on the server itself (issue 13).

Every replica (a bot, a CLI on another machine) reaches the same server, so the manifest, the writer's lease
and the dirty marker live there, in a small side collection beside the chunks (``<collection>.citebot``),
and a replica's local state folder holds only caches (keyword indexes) that may be deleted at any time.

Records of the side collection (each with a 1-dimension dummy vector: Chroma stores nothing without one):
- ``manifest-G-I``: part I of generation G's manifest (JSON, cut in ``PART_CHARS`` pieces: one record of a
  million-chunk manifest would be a 40 MB request);
- ``current``: the pointer, naming the committed generation, its number of parts and a commit id. A commit
  writes the new parts first, then the pointer (one record: Chroma applies it whole), then deletes parts of
  generations older than the one before, which a reader that read the previous pointer may still be reading;
- ``lease-N``: the writer's lease (see ``Lease``);
- ``dirty``: present while a run may have left uncommitted chunks in the collection.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from . import state
from .errors import IndexDamaged, LeaseHeld
from .settings import Settings
from .store import Store

log = logging.getLogger(__name__)
SIDE_SUFFIX = ".citebot"  # Chroma allows [a-zA-Z0-9._-] in collection names: no underscores, no "__"
POINTER = "current"
DIRTY = "dirty"
_VECTOR = [1.0]  # every record's vector: the side collection is only ever read by id
# Characters of manifest JSON per record: a 20,000-chunk manifest is about 0.8 MB, one record; a 4 MB record
# took 0.1 s to write and 0.03 s to read on a local server, so 1 MB keeps each request small without making
# the million-chunk manifest (about 40 MB) more than ~40 records. Not tuned further.
PART_CHARS = 1_000_000
# Seconds a process reuses the pointer it read: every question looks at it (two or three times), and one look
# is an HTTP round trip (2-3 ms on a local server). A commit is then seen within this long by every replica;
# a commit this process made is seen at once. Chosen by hand: well under the "within seconds" a replica needs.
POINTER_MAX_AGE = 0.5
LOAD_ATTEMPTS = 3  # as search.RETRIES_ON_COMMIT: a reader may read a pointer just before two more commits land
LEASE_POLL = 0.2  # seconds between looks while waiting for another writer's lease to end (a re-index takes seconds)
RENEWALS_PER_LEASE = 3  # the holder renews its lease this often per lease length: two renewals may fail in a row


def side_collection(collection: str) -> str:
    """The name of the collection holding ``collection``'s committed state."""
    return f"{collection}{SIDE_SUFFIX}"


def cache_dir(settings: Settings) -> Path:
    """A server-mode process's local cache folder: the state folder, one subfolder per collection when
    ``CITEBOT_STATE_DIR`` is set (the bot serves several collections with one setting); the default
    (``.citebot/server-HOST-PORT-COLLECTION``) already names the collection."""
    if settings.state_dir is not None:
        return settings.state_dir / settings.collection
    return settings.resolved_state_dir()


def open_ledger(settings: Settings) -> state.Ledger:
    """Where ``settings``' index keeps its committed state: the Chroma server in server mode, else the folder."""
    if settings.chroma_host:
        return ChromaLedger(settings)
    return state.FolderLedger(settings.resolved_state_dir())


_pointers_lock = threading.Lock()
# The pointer each collection's ledgers in this process last read: (when, the record's metadata or None).
_pointers: dict[tuple[str, int, str], tuple[float, dict[str, Any] | None]] = {}


class ChromaLedger:
    """The committed state of one collection, on its Chroma server (see the module docstring)."""

    keyword_cache = True  # keyword folders are this process's own cache, rebuilt from the stored chunks

    def __init__(self, settings: Settings) -> None:
        side = side_collection(settings.collection)
        self.settings = settings
        self.records = Store(settings.model_copy(update={"collection": side}))
        self.state_dir = cache_dir(settings)
        self.where = f"collection {side!r} at {self.records.where}"
        self._key = (settings.chroma_host or "", settings.chroma_port, settings.collection)
        self._lease: Lease | None = None

    # --- the pointer and the manifest ---------------------------------------------------------------------------

    def _pointer(self, fresh: bool = False) -> dict[str, Any] | None:
        now = time.monotonic()
        with _pointers_lock:
            seen = _pointers.get(self._key)
        if not fresh and seen is not None and now - seen[0] < POINTER_MAX_AGE:
            return seen[1]
        res: Any = self.records.call(lambda col: col.get(ids=[POINTER], include=["metadatas"]))
        pointer = dict(res["metadatas"][0]) if res["ids"] else None
        self._remember(pointer, now)
        return pointer

    def _remember(self, pointer: dict[str, Any] | None, when: float | None = None) -> None:
        with _pointers_lock:
            _pointers[self._key] = (time.monotonic() if when is None else when, pointer)

    def stamp(self) -> Hashable:
        pointer = self._pointer()
        return None if pointer is None else (pointer.get("gen"), pointer.get("commit"))

    def load(self) -> state.Manifest | None:
        pointer = self._pointer()
        for attempt in range(LOAD_ATTEMPTS):
            if pointer is None:
                return None
            generation, parts = self._shape(pointer)
            ids = [_part_id(generation, i) for i in range(parts)]
            res: Any = self.records.call(partial(_get, ids=ids))
            found = {cid: meta for cid, meta in zip(res["ids"], res["metadatas"], strict=True)}
            if len(found) == parts:
                break
            # A commit landed and its clean-up removed the parts this pointer names: read the pointer again.
            newer = self._pointer(fresh=True)
            if attempt == LOAD_ATTEMPTS - 1 or newer == pointer:
                raise self._damaged(generation, f"{parts - len(found)} of its {parts} record(s) are missing")
            pointer = newer
        body = "".join(str(found[cid].get("body", "")) for cid in ids)
        try:
            manifest = state.Manifest.from_json(body)
        except ValueError as exc:
            raise self._damaged(generation, str(exc)) from None
        if manifest.generation != generation:
            raise self._damaged(generation, f"its records hold generation {manifest.generation}")
        return manifest

    def _shape(self, pointer: dict[str, Any]) -> tuple[int, int]:
        generation, parts = pointer.get("gen"), pointer.get("parts")
        if not isinstance(generation, int) or not isinstance(parts, int) or generation < 1 or parts < 1:
            raise IndexDamaged(f"the commit record {POINTER!r} in {self.where} is damaged (generation {generation!r}, "
                               f"parts {parts!r})", _START_OVER)
        return generation, parts

    def _damaged(self, generation: int, why: str) -> IndexDamaged:
        return IndexDamaged(f"the manifest of generation {generation} in {self.where} is damaged ({why})", _START_OVER)

    def save(self, manifest: state.Manifest) -> None:
        body = manifest.to_json()
        pieces = [body[i : i + PART_CHARS] for i in range(0, len(body), PART_CHARS)] or [""]
        g = manifest.generation
        for i, piece in enumerate(pieces):  # one record a request: each is up to PART_CHARS long
            meta = {"kind": "manifest", "gen": g, "part": i, "body": piece}
            self._upsert(_part_id(g, i), meta)
        if self._lease is not None:
            self._lease.confirm()  # the last moment a writer whose lease ran out can still keep out of the way
        pointer = {"kind": "current", "gen": g, "parts": len(pieces), "commit": uuid.uuid4().hex, "at": time.time()}
        self._upsert(POINTER, pointer)  # the commit: one record
        self._remember(pointer)
        older = [cid for cid in self._ids("manifest-") if (_part_generation(cid) or 0) < g - 1]
        if older:
            self.records.call(lambda col: col.delete(ids=older), write=True)

    def _upsert(self, record: str, meta: dict[str, Any]) -> None:
        self.records.call(lambda col: col.upsert(ids=[record], embeddings=[_VECTOR], metadatas=[meta]), write=True)

    def _ids(self, prefix: str) -> list[str]:
        """Ids of the side collection's records that start with ``prefix`` (it holds a few dozen at most)."""
        res: Any = self.records.call(lambda col: col.get(include=[]))
        return [str(cid) for cid in res["ids"] if str(cid).startswith(prefix)]

    def touch(self) -> None:
        """Nothing to tell: every replica reads the store live and builds its own keyword index."""

    def set_aside(self) -> str:
        return f"its records in {self.where} (the next commits remove them)"

    def generation_floor(self) -> int:
        numbers = [_part_generation(cid) or 0 for cid in self._ids("manifest-")]
        return max([*numbers, state.latest_keyword_generation(self.state_dir)])

    # --- the dirty marker and the lease -------------------------------------------------------------------------

    def is_dirty(self) -> bool:
        res: Any = self.records.call(lambda col: col.get(ids=[DIRTY], include=[]))
        return bool(res["ids"])

    def mark_dirty(self) -> None:
        self._upsert(DIRTY, {"kind": "dirty", "by": holder_name()})

    def clear_dirty(self) -> None:
        self.records.call(lambda col: col.delete(ids=[DIRTY]), write=True)

    def lock(self, wait: float = 0.0) -> AbstractContextManager[None]:
        return self._leased(wait)

    @contextmanager
    def _leased(self, wait: float) -> Iterator[None]:
        lease = Lease(self.records, self.settings.lease_seconds, self.where)
        lease.acquire(wait)
        self._lease = lease
        self._pointer(fresh=True)  # the writer plans from the pointer as it is now, not as this process last saw it
        try:
            yield
        finally:
            self._lease = None
            lease.release()


_START_OVER = ("`citebot index DIR` (or `citebot check --repair DIR`) indexes DIR again from scratch, reusing the "
               "vectors Chroma holds")


def _get(col: Any, ids: list[str]) -> Any:
    return col.get(ids=ids, include=["metadatas"])


def _part_id(generation: int, part: int) -> str:
    return f"manifest-{generation}-{part}"


def _part_generation(record: str) -> int | None:
    number = record.removeprefix("manifest-").split("-")[0]
    return int(number) if number.isdigit() else None


def holder_name() -> str:
    """Names a writer in messages: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Lease:
    """One writer per collection across machines: a lease record on the server, renewed while the run lasts.

    Chroma has no compare-and-swap, but its ``add`` of an id that exists keeps the existing record (chromadb
    1.5, checked by tests/index/test_replicas.py): so lease number N+1 goes to whoever adds it first, and a
    writer takes over an expired (or released) lease N by adding N+1 and reading back whose it is. The holder
    renews its own record; a holder that is killed stops renewing, and its lease expires ``seconds`` later
    (at once for a writer of the same machine, which can see that the holder's process is gone).
    Expiry times are wall-clock seconds: the machines' clocks must agree to well within ``seconds``.
    """

    def __init__(self, records: Store, seconds: float, where: str) -> None:
        self.records, self.seconds, self.where = records, seconds, where
        self.holder = holder_name()
        self.token = uuid.uuid4().hex
        self.number = 0
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._lost = ""  # who took the lease over while this run held it (it stalled past its expiry)

    def _leases(self) -> list[tuple[int, dict[str, Any]]]:
        res: Any = self.records.call(lambda col: col.get(where={"kind": "lease"}, include=["metadatas"]))
        found = []
        for cid, meta in zip(res["ids"], res["metadatas"], strict=True):
            number = str(cid).removeprefix("lease-")
            if number.isdigit():
                found.append((int(number), dict(meta)))
        return sorted(found, key=lambda lease: lease[0])

    def _died_here(self, holder: str) -> bool:
        """Whether ``holder`` names a process of this writer's machine that is gone: its lease need not run out
        (a run that failed with the server down could not release it). Another machine's holder is known dead
        only by its lease running out."""
        host, _, pid = holder.rpartition(":")
        if host != self.holder.rpartition(":")[0] or not pid.isdigit():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False

    def _record(self, expires: float) -> dict[str, Any]:
        return {"kind": "lease", "holder": self.holder, "token": self.token, "expires": expires}

    def acquire(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            leases = self._leases()
            number, current = leases[-1] if leases else (0, {})
            if float(current.get("expires", 0.0)) <= time.time() or self._died_here(str(current.get("holder", ""))):
                self._take(number + 1)
                if self.number:
                    for old, _ in leases:  # dead leases: nobody renews them any more
                        self._delete(f"lease-{old}")
                    self._renewer = threading.Thread(target=self._renew, name="citebot-lease", daemon=True)
                    self._renewer.start()
                    return
                continue  # another writer added it first: now it is held, and said so below
            if time.monotonic() >= deadline:
                until = time.strftime("%H:%M:%S", time.gmtime(float(current.get("expires", 0.0))))
                raise LeaseHeld(f"another re-index is running on {current.get('holder', 'another machine')} (it holds "
                                f"the lease on {self.where} until {until} UTC, renewed while it runs); try again when "
                                "it ends")
            time.sleep(LEASE_POLL)

    def _take(self, number: int) -> None:
        record = f"lease-{number}"
        meta = self._record(time.time() + self.seconds)
        self.records.call(lambda col: col.add(ids=[record], embeddings=[_VECTOR], metadatas=[meta]), write=True)
        res: Any = self.records.call(lambda col: col.get(ids=[record], include=["metadatas"]))
        if res["ids"] and res["metadatas"][0].get("token") == self.token:
            self.number = number

    def _delete(self, record: str) -> None:
        try:
            self.records.call(lambda col: col.delete(ids=[record]), write=True)
        except Exception as exc:  # noqa: BLE001 - tidying only: the next writer deletes it
            log.debug("could not delete the old lease %s: %s", record, exc)

    def _renew(self) -> None:
        record = f"lease-{self.number}"
        while not self._stop.wait(self.seconds / RENEWALS_PER_LEASE):
            try:
                newest, meta = self._leases()[-1]
                if newest != self.number:
                    self._lost = str(meta.get("holder", "another writer"))
                    return
                self._upsert(record, time.time() + self.seconds)
            except Exception as exc:  # noqa: BLE001 - the next renewal tries again; the run's own calls report it
                log.warning("could not renew the lease on %s: %s", self.where, exc)

    def _upsert(self, record: str, expires: float) -> None:
        meta = self._record(expires)
        self.records.call(lambda col: col.upsert(ids=[record], embeddings=[_VECTOR], metadatas=[meta]), write=True)

    def confirm(self) -> None:
        """Raise ``LeaseHeld`` unless this run still holds the lease (it may have stalled past its expiry)."""
        leases = self._leases()
        newest, meta = leases[-1] if leases else (0, {})
        if self._lost or newest != self.number:
            raise LeaseHeld(f"this run's lease on {self.where} ran out while it stalled and "
                            f"{self._lost or meta.get('holder', 'another writer')} took it over: nothing was committed")

    def release(self) -> None:
        """Let the next writer in at once (best effort: unreleased, the lease expires by itself)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=self.seconds)
        if not self.number or self._lost:
            return
        try:
            self._upsert(f"lease-{self.number}", 0.0)
        except Exception as exc:  # noqa: BLE001 - the lease expires by itself
            log.warning("could not release the lease on %s (it expires by itself): %s", self.where, exc)

"""The Chroma store: what a reopen frees, calls in flight across a reopen, and the chromadb internals it uses."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from citebot.index import Settings
from citebot.index import store as store_module
from citebot.index.store import Store, StoredChunk, _bound_requests

from .helpers import crowd, hash_settings

REOPENS = 60  # 3-6 s here; without stopping the dropped state, RSS grew by ~110 MiB over as many reopens
RSS_GROWTH_LIMIT_MIB = 40.0  # with it, 3-13 MiB (allocator noise) over the same reopens


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def _one_chunk_store(settings: Settings, text: str = "hello") -> Store:
    store = Store(settings)
    vector = np.full(8, 1 / np.sqrt(8), dtype=np.float32)
    store.upsert([StoredChunk("a", "a.txt", 1, 1, text, [(1, [])], "", "h", None, vector)])
    return store


def test_reopening_a_local_store_does_not_grow_memory(tmp_path: Path) -> None:
    """Issue 9: every reopen left chromadb's old System (a whole copy of the directory's state) running."""
    store = _one_chunk_store(hash_settings(tmp_path))
    for _ in range(10):  # warm up: the first reopens load code and fill caches
        store.reopen()
        assert store.count() == 1
    gc.collect()
    before = _rss_mib()
    for _ in range(REOPENS):
        store.reopen()
        assert store.count() == 1
    gc.collect()
    grown = _rss_mib() - before
    assert grown < RSS_GROWTH_LIMIT_MIB, f"RSS grew by {grown:.0f} MiB over {REOPENS} reopens"


def test_a_call_in_flight_finishes_on_the_state_it_started_with(tmp_path: Path) -> None:
    """The old state is stopped only once the last call using it ends, never under it."""
    store = _one_chunk_store(hash_settings(tmp_path))
    started, go_on = threading.Event(), threading.Event()
    result: list[object] = []

    def slow_count(col: object) -> int:
        started.set()
        assert go_on.wait(10), "never released"
        return int(col.count())  # type: ignore[attr-defined]

    worker = threading.Thread(target=lambda: result.append(store._guard(slow_count)))
    worker.start()
    assert started.wait(10)
    store.reopen()
    assert store.count() == 1, "a new call opens the directory afresh"
    go_on.set()
    worker.join(10)
    assert result == [1]


def test_other_stores_of_the_same_directory_move_to_the_fresh_state(tmp_path: Path) -> None:
    """chromadb shares one state per directory in a process: a reopen by one store must not strand another
    store of the same directory on the state it stopped."""
    settings = hash_settings(tmp_path)
    first = _one_chunk_store(settings)
    second = Store(settings)
    assert second.count() == 1
    first.reopen()
    first.delete(["a"])
    assert second.count() == 0
    assert second.get(["a"]) == []


def test_the_writers_own_search_sees_past_the_chunks_it_has_just_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A search sizes its reach past untrusted chunks by the collection's size, which it asks at most once a
    second (COUNT_MAX_AGE). The writer's own store (the bot re-indexing) searched within that second of its own
    writes with the size from before them and stopped there: 2,000 chunks nearer than every committed one hid
    them all. (A reader's store of the directory moves to a fresh copy, and asks its size again.)"""
    monkeypatch.setattr(store_module, "COUNT_MAX_AGE", 600.0)  # the writes land within the size's age on any machine
    vectors = crowd(7)
    store = Store(hash_settings(tmp_path))
    store.upsert(vectors.committed)
    reader = Store(store.settings)
    for each in (store, reader):
        assert [cid for cid, _ in each.nearest(vectors.target, 5, vectors.trusted)] == vectors.exact
    store.upsert(vectors.crowd)
    assert [cid for cid, _ in store.nearest(vectors.target, 5, vectors.trusted)] == vectors.exact, "the writer"
    assert [cid for cid, _ in reader.nearest(vectors.target, 5, vectors.trusted)] == vectors.exact, "a reader"


def test_chromadb_internals_the_store_relies_on_still_exist() -> None:
    """store.py reaches into chromadb (pinned to 1.5 in pyproject.toml): a chromadb that moves these breaks the
    reopen (stale reads, leaked state) and the server time-out, silently but for a log line."""
    import httpx
    from chromadb.api import ServerAPI
    from chromadb.api.client import Client
    from chromadb.api.shared_system_client import SharedSystemClient
    from chromadb.config import Settings as ChromaSettings
    from chromadb.config import System

    assert isinstance(SharedSystemClient._identifier_to_system, dict)
    assert isinstance(SharedSystemClient._identifier_to_refcount, dict)
    assert hasattr(SharedSystemClient._refcount_lock, "__enter__")
    assert "_server" in Client.__annotations__, "Client._server holds the API object"
    # The HTTP API object a chromadb.HttpClient puts in ``_server``, built without reaching any server.
    system = System(ChromaSettings(
        chroma_api_impl="chromadb.api.fastapi.FastAPI", chroma_server_host="127.0.0.1",
        chroma_server_http_port=9, anonymized_telemetry=False,
    ))
    api = system.instance(ServerAPI)  # type: ignore[type-abstract]
    try:
        assert isinstance(api._session, httpx.Client)  # type: ignore[attr-defined]
        _bound_requests(SimpleNamespace(_server=api), Settings(_env_file=None, chroma_timeout=3.0))  # type: ignore[call-arg]
        assert api._session.timeout == httpx.Timeout(3.0)  # type: ignore[attr-defined]
    finally:
        system.stop()

"""Chroma access: one collection of chunks, embeddings supplied by citebot, cosine space.

Every call goes through ``_guard`` so that a Chroma server that is down becomes one clear
``StoreUnavailable`` message, and the client is rebuilt on the next call so service resumes by
itself when the server returns.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import numpy as np

from .errors import StoreUnavailable, UsageError
from .settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
_BATCH = 1000
COUNT_MAX_AGE = 1.0  # seconds a query may reuse the collection size
MAX_UNTRUSTED_SLACK = 2000  # most extra neighbours fetched to see past uncommitted chunks
SERVER_TIMEOUT = 60.0  # seconds one request to a Chroma server may take before the server counts as unreachable
CONNECT_TIMEOUT = 5.0
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
        return meta

    @classmethod
    def from_chroma(cls, cid: str, meta: dict[str, Any], text: str, embedding: Any = None) -> StoredChunk:
        units = [(int(a), list(b)) for a, b in json.loads(str(meta["units"]))]
        return cls(
            cid, str(meta["source"]), int(meta["line_start"]), int(meta["line_end"]), text, units,
            str(meta.get("context", "")), str(meta.get("hash", "")), None,
            None if embedding is None else np.asarray(embedding, dtype=np.float32),
            str(meta.get("lvec") or ""),
        )


def _is_connection_error(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in _chain(exc)}
    text = " ".join(str(e) for e in _chain(exc)).lower()
    return bool(names & {"ConnectError", "ConnectionError", "ConnectTimeout", "ReadError", "RemoteProtocolError",
                         "ConnectionRefusedError", "ReadTimeout", "WriteTimeout", "PoolTimeout", "WriteError",
                         "ServerDisconnectedError"}) or (
        "could not connect" in text or "connection refused" in text
    )


def _chain(exc: BaseException | None) -> Iterable[BaseException]:
    seen = 0
    while exc is not None and seen < 10:
        yield exc
        exc = exc.__cause__ or exc.__context__
        seen += 1


class Store:
    """The chunk collection of one index, embedded or on a Chroma server; safe to share between threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None
        self._collection: Any = None
        self._lock = threading.Lock()
        self._counted: tuple[float, int] | None = None

    @property
    def where(self) -> str:
        s = self.settings
        return f"{s.chroma_host}:{s.chroma_port}" if s.chroma_host else str(s.db_path)

    def _guard(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(collection)``, turning Chroma's failures into one-line errors.

        A local directory that another process wrote since this one loaded it fails with Chroma's
        ``InternalError``, a collection deleted under this client with ``NotFoundError``: either way the
        collection is opened again and the call retried once.
        """
        for attempt in (1, 2):
            try:
                return fn(self._open())
            except StoreUnavailable:
                raise
            except Exception as exc:
                if self.settings.chroma_host and _is_connection_error(exc):
                    self._drop()
                    raise StoreUnavailable(f"cannot reach the Chroma server at {self.where}") from exc
                dims = _DIMENSION.search(str(exc))
                if dims:
                    raise UsageError(
                        f"the index at {self.where} (collection {self.settings.collection!r}) holds {dims[1]}-"
                        f"dimension vectors but the embedding model makes {dims[2]}: index into a new --db or "
                        "collection, or use the model it was built with"
                    ) from exc
                if attempt == 1 and not self.settings.chroma_host and type(exc).__name__ == "InternalError":
                    log.info("%s changed under this process (%s); reopening it", self.where, exc)
                    self.reopen()
                    continue
                if attempt == 1 and type(exc).__name__ == "NotFoundError":
                    # The collection this client holds was deleted (a server that came back without its
                    # data, a reset): open it again by name, created empty if need be.
                    log.warning("collection %r vanished from %s; opening it again", self.settings.collection,
                                self.where)
                    if self.settings.chroma_host:
                        self._drop()
                    else:
                        self.reopen()
                    continue
                raise
        raise AssertionError("unreachable")

    def _open(self) -> Any:
        with self._lock:
            if self._collection is None:
                self._connect()
            return self._collection

    def _drop(self) -> None:
        with self._lock:
            client, self._client, self._collection = self._client, None, None
        if client is not None and self.settings.chroma_host:
            with contextlib.suppress(Exception):
                client.close()  # each HTTP client owns its own chromadb "system"; free it

    def reopen(self) -> None:
        """Read the collection afresh on the next call.

        Embedded Chroma keeps vectors in memory and does not see what another process (a CLI
        re-index beside a running bot) wrote since: its queries miss new chunks and return deleted
        ones. chromadb also shares that state between all clients of one directory in a process
        (another Engine's, or one this Store has not made yet), so the shared entry is dropped too;
        calls already running finish on the old state.
        """
        with self._lock:
            self._client = self._collection = None
            if not self.settings.chroma_host:
                _forget_shared_system(str(self.settings.db_path))

    def _connect(self) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        s = self.settings
        if s.chroma_host:
            _heartbeat(s)
            client: Any = chromadb.HttpClient(
                host=s.chroma_host, port=s.chroma_port, ssl=s.chroma_ssl, settings=chroma_settings
            )
            _bound_requests(client)
        else:
            s.db_path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(s.db_path), settings=chroma_settings)
        try:
            collection = client.get_or_create_collection(
                s.collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
        except Exception:
            if s.chroma_host:
                with contextlib.suppress(Exception):
                    client.close()
            raise
        self._client, self._collection = client, collection

    def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the collection answers."""
        self._guard(lambda col: col.count())

    def count(self) -> int:
        return int(self._guard(lambda col: col.count()))

    def _recent_count(self) -> int:
        """The collection size, asked at most once a second: a query needs it only to size its reach."""
        now = time.monotonic()
        if self._counted is None or now - self._counted[0] > COUNT_MAX_AGE:
            self._counted = (now, self.count())
        return self._counted[1]

    def upsert(self, chunks: Sequence[StoredChunk]) -> None:
        for i in range(0, len(chunks), _BATCH):
            batch = chunks[i : i + _BATCH]
            self._guard(partial(_upsert_batch, batch=batch))

    def get(self, ids: Sequence[str], embeddings: bool = False) -> list[StoredChunk]:
        """Chunks by id, in the order asked, missing ones left out."""
        found: dict[str, StoredChunk] = {}
        include = ["metadatas", "documents"] + (["embeddings"] if embeddings else [])
        for i in range(0, len(ids), _BATCH):
            part = list(ids[i : i + _BATCH])
            res: Any = self._guard(partial(_get, ids=part, include=include))
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

    def query(self, vector: np.ndarray, n: int, committed: int | None = None) -> list[tuple[StoredChunk, float]]:
        """Nearest chunks with their cosine similarity, best first.

        With ``committed`` (how many chunks the caller trusts), the search reaches past every chunk it
        does not trust: after a killed run or during a large re-index, uncommitted chunks may sit nearest.
        """
        total = self._recent_count()
        if total == 0:
            return []
        if committed is not None:
            n += min(max(total - committed, 0), MAX_UNTRUSTED_SLACK)
        res = self._guard(
            lambda col: col.query(
                query_embeddings=vector.reshape(1, -1), n_results=min(n, total),
                include=["metadatas", "documents", "distances"],
            )
        )
        rows = list(zip(res["ids"][0], res["metadatas"][0], res["documents"][0], res["distances"][0], strict=True))
        if any(meta is None for _, meta, _, _ in rows) and not self.settings.chroma_host:
            # Vectors of chunks another process deleted since this one loaded the directory: skip them now,
            # read the directory afresh for the next question.
            self.reopen()
        return [
            (StoredChunk.from_chroma(cid, meta, doc), 1.0 - float(dist))
            for cid, meta, doc, dist in rows
            if meta is not None and doc is not None
        ]

    def all_ids(self) -> list[str]:
        ids: list[str] = []
        offset = 0
        while True:
            res: Any = self._guard(partial(_get, include=[], limit=10_000, offset=offset))
            ids.extend(res["ids"])
            if len(res["ids"]) < 10_000:
                return ids
            offset += 10_000

    def delete(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), _BATCH):
            part = list(ids[i : i + _BATCH])
            self._guard(partial(_delete, ids=part))


def _get(col: Any, **kwargs: Any) -> Any:
    return col.get(**kwargs)


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
    chromadb's own first requests, made while its client is built, would wait forever."""
    import httpx

    httpx.get(f"{_server_url(settings)}/api/v2/heartbeat", timeout=CONNECT_TIMEOUT)  # any status will do


def _bound_requests(client: Any) -> None:
    """chromadb's HTTP session has no timeout at all: give every request one (chromadb internals, checked
    against 1.5; without them requests stay unbounded)."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(SERVER_TIMEOUT, connect=CONNECT_TIMEOUT)
    else:  # pragma: no cover - a chromadb that moved its internals
        log.warning("cannot bound the Chroma client's request time: a hung server may block requests")


def _forget_shared_system(path: str) -> None:
    """Drop chromadb's per-process cached state of a local directory so the next client loads it from disk.

    Uses chromadb internals (checked against 1.5); without them a reopen merely reuses the stale state.
    """
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        with SharedSystemClient._refcount_lock:
            SharedSystemClient._identifier_to_system.pop(path, None)
            SharedSystemClient._identifier_to_refcount.pop(path, None)
    except (ImportError, AttributeError):  # pragma: no cover - a chromadb that moved its internals
        log.warning("cannot drop chromadb's cached state of %s: another process's writes may stay unseen", path)

"""Chroma access: one collection of chunks, embeddings supplied by citebot, cosine space.

Every call goes through ``_guard`` so that a Chroma server that is down becomes one clear
``StoreUnavailable`` message, and the client is rebuilt on the next call so service resumes by
itself when the server returns.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from .errors import StoreUnavailable
from .settings import Settings

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

T = TypeVar("T")
_BATCH = 1000


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
        return meta

    @classmethod
    def from_chroma(cls, cid: str, meta: dict[str, Any], text: str, embedding: Any = None) -> StoredChunk:
        units = [(int(a), list(b)) for a, b in json.loads(str(meta["units"]))]
        lvec = None
        if meta.get("lvec"):
            raw = np.frombuffer(base64.b64decode(str(meta["lvec"])), dtype=np.float16).astype(np.float32)
            lvec = raw.reshape(len(units), -1) if units else None
        return cls(
            cid, str(meta["source"]), int(meta["line_start"]), int(meta["line_end"]), text, units,
            str(meta.get("context", "")), str(meta.get("hash", "")), lvec,
            None if embedding is None else np.asarray(embedding, dtype=np.float32),
        )


def _is_connection_error(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in _chain(exc)}
    text = " ".join(str(e) for e in _chain(exc)).lower()
    return bool(names & {"ConnectError", "ConnectionError", "ConnectTimeout", "ReadError", "RemoteProtocolError",
                         "ConnectionRefusedError", "ReadTimeout", "ServerDisconnectedError"}) or (
        "could not connect" in text or "connection refused" in text
    )


def _chain(exc: BaseException | None) -> Iterable[BaseException]:
    seen = 0
    while exc is not None and seen < 10:
        yield exc
        exc = exc.__cause__ or exc.__context__
        seen += 1


class Store:
    """The chunk collection of one index, embedded or on a Chroma server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None
        self._collection: Any = None

    @property
    def where(self) -> str:
        s = self.settings
        return f"{s.chroma_host}:{s.chroma_port}" if s.chroma_host else str(s.db_path)

    def _guard(self, fn: Callable[[], T]) -> T:
        try:
            if self._collection is None:
                self._connect()
            return fn()
        except StoreUnavailable:
            raise
        except Exception as exc:
            if self.settings.chroma_host and _is_connection_error(exc):
                self._client = self._collection = None
                raise StoreUnavailable(f"cannot reach the Chroma server at {self.where}") from exc
            raise

    def _connect(self) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        s = self.settings
        if s.chroma_host:
            self._client = chromadb.HttpClient(
                host=s.chroma_host, port=s.chroma_port, ssl=s.chroma_ssl, settings=chroma_settings
            )
        else:
            s.db_path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(s.db_path), settings=chroma_settings)
        self._collection = self._client.get_or_create_collection(
            s.collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the collection answers."""
        self._guard(lambda: self._collection.count())

    def count(self) -> int:
        return int(self._guard(lambda: self._collection.count()))

    def upsert(self, chunks: Sequence[StoredChunk]) -> None:
        for i in range(0, len(chunks), _BATCH):
            batch = chunks[i : i + _BATCH]
            self._guard(
                lambda batch=batch: self._collection.upsert(
                    ids=[c.id for c in batch],
                    embeddings=np.stack([c.embedding for c in batch]),  # type: ignore[misc]
                    documents=[c.text for c in batch],
                    metadatas=[c.metadata() for c in batch],
                )
            )

    def get(self, ids: Sequence[str], embeddings: bool = False) -> list[StoredChunk]:
        """Chunks by id, in the order asked, missing ones left out."""
        found: dict[str, StoredChunk] = {}
        include = ["metadatas", "documents"] + (["embeddings"] if embeddings else [])
        for i in range(0, len(ids), _BATCH):
            part = list(ids[i : i + _BATCH])
            res = self._guard(lambda part=part: self._collection.get(ids=part, include=include))
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
            res = self._guard(
                lambda part=part: self._collection.get(
                    where={"hash": {"$in": part}}, include=["metadatas", "documents", "embeddings"]
                )
            )
            for j, cid in enumerate(res["ids"]):
                chunk = StoredChunk.from_chroma(cid, res["metadatas"][j], res["documents"][j], res["embeddings"][j])
                out.setdefault(chunk.hash, chunk)
        return out

    def query(self, vector: np.ndarray, n: int) -> list[tuple[StoredChunk, float]]:
        """Nearest chunks with their cosine similarity, best first."""
        total = self.count()
        if total == 0:
            return []
        res = self._guard(
            lambda: self._collection.query(
                query_embeddings=vector.reshape(1, -1), n_results=min(n, total),
                include=["metadatas", "documents", "distances"],
            )
        )
        return [
            (StoredChunk.from_chroma(cid, meta, doc), 1.0 - float(dist))
            for cid, meta, doc, dist in zip(
                res["ids"][0], res["metadatas"][0], res["documents"][0], res["distances"][0]
            )
        ]

    def all_ids(self) -> list[str]:
        ids: list[str] = []
        offset = 0
        while True:
            res = self._guard(lambda offset=offset: self._collection.get(include=[], limit=10_000, offset=offset))
            ids.extend(res["ids"])
            if len(res["ids"]) < 10_000:
                return ids
            offset += 10_000

    def delete(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), _BATCH):
            part = list(ids[i : i + _BATCH])
            self._guard(lambda part=part: self._collection.delete(ids=part))

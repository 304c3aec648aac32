"""Bring the index in step with a folder: embed only what changed, commit atomically, then tidy up."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import state
from .chunker import Chunk, chunk_document
from .cleaner import clean
from .embedder import Embedder
from .errors import UsageError
from .keyword import KeywordIndex
from .loader import Document, Skipped, scan
from .settings import Settings
from .store import Store, StoredChunk
from .textproc import terms

log = logging.getLogger(__name__)
PIPELINE_VERSION = "1"
Progress = Callable[[str, int, int], None]


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    chunks: int = 0  # chunks in the committed index
    embedded: int = 0  # chunks this run sent through the model
    reused: int = 0  # new chunks whose vectors were found already stored
    seconds: float = 0.0
    generation: int = 0

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.removed} removed, {self.unchanged} unchanged, "
            f"{len(self.skipped)} skipped; {self.chunks} chunks ({self.embedded} embedded); {self.seconds:.1f} s"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "added": self.added, "updated": self.updated, "removed": self.removed, "unchanged": self.unchanged,
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
            "warnings": self.warnings, "chunks": self.chunks, "embedded": self.embedded, "reused": self.reused,
            "seconds": round(self.seconds, 3), "generation": self.generation,
        }


def signature(settings: Settings, model_name: str) -> str:
    """What the chunks depend on besides file content; a change re-embeds everything."""
    return "|".join(
        [PIPELINE_VERSION, model_name, str(settings.chunk_tokens), str(settings.overlap_lines),
         str(settings.drop_boilerplate)]
    )


def _stored(chunk: Chunk, model_name: str) -> StoredChunk:
    units = [(u.line, list(u.also_at)) for u in chunk.units]
    digest = hashlib.sha256(
        "\x1f".join([model_name, chunk.context, *(u.text for u in chunk.units)]).encode()
    ).hexdigest()
    cid = hashlib.sha256(f"{chunk.source}\x00{json.dumps(units)}\x00{digest}".encode()).hexdigest()[:32]
    return StoredChunk(cid, chunk.source, chunk.line_start, chunk.line_end, chunk.text, units, chunk.context, digest)


def _chunks_for(doc: Document, settings: Settings, embedder: Embedder) -> list[StoredChunk]:
    cleaned = clean(doc.lines, settings.drop_boilerplate)
    window = min(settings.chunk_tokens, embedder.max_tokens)
    chunks = chunk_document(doc.source, doc.lines, cleaned, window, embedder.count_tokens, settings.overlap_lines)
    # Identical pieces of one over-long line (a line of repeated text) get identical ids: store each once.
    unique: dict[str, StoredChunk] = {}
    for c in chunks:
        stored = _stored(c, embedder.name)
        unique.setdefault(stored.id, stored)
    return list(unique.values())


def _keyword_text(chunk: StoredChunk) -> str:
    return f"{chunk.context}\n{chunk.text}" if chunk.context else chunk.text


def build(
    settings: Settings,
    root: Path,
    embedder: Embedder,
    store: Store,
    progress: Progress | None = None,
    wait: float = 0.0,
    before_commit: Callable[[], None] | None = None,
) -> IndexReport:
    """Index ``root`` incrementally; the previous index keeps answering until the new one is committed."""
    started = time.perf_counter()
    if not root.exists():
        raise UsageError(f"no such folder: {root}")
    if not root.is_dir():
        raise UsageError(f"not a folder: {root}")
    state_dir = settings.resolved_state_dir()
    report = IndexReport()
    with state.writer_lock(state_dir, wait):
        old = state.load(state_dir) or state.Manifest()
        dirty = (state_dir / state.DIRTY).exists()
        if old.writer != state.process_token() or dirty:
            store.reopen()  # another process wrote since this one last looked
        store.ping()  # an unreachable server is reported even when nothing changed
        sig = signature(settings, embedder.name)
        rebuild = old.signature != sig
        found = scan(root, settings.extensions, settings.exclude, settings.follow_symlinks, settings.max_file_bytes)
        report.skipped, report.warnings = found.skipped, found.warnings
        unreadable = [s.source for s in found.skipped if s.reason.startswith("unreadable")]
        keep_on_error = {s for s in old.files if _under_any(s, unreadable)}
        current = {d.source: d for d in found.documents}
        lost = set() if rebuild else _lost_chunks(store, old, dirty)
        lost_files = {s for s, e in old.files.items() if lost.intersection(e.chunks)}
        if lost:
            report.warnings.append(
                f"{len(lost)} indexed chunk(s) of {len(lost_files)} file(s) were missing from {store.where}; "
                "indexing those files again"
            )
        changed = [d for d in found.documents if rebuild or d.source not in old.files
                   or old.files[d.source].sha256 != d.sha256 or d.source in lost_files]
        removed = [s for s in old.files if s not in current and s not in keep_on_error]
        report.added = sum(1 for d in changed if d.source not in old.files)
        report.updated = len(changed) - report.added
        report.removed = len(removed)
        report.unchanged = len(current) - len(changed)
        if not changed and not removed and not dirty and old.generation:
            report.chunks = len(old.chunk_ids())
            report.generation = old.generation
            report.seconds = time.perf_counter() - started
            return report
        (state_dir / state.DIRTY).touch()
        new_files = {s: e for s, e in old.files.items() if s not in removed and s not in {d.source for d in changed}}
        if rebuild:
            new_files = {s: e for s, e in new_files.items() if s in keep_on_error}
        pending: list[StoredChunk] = []
        try:
            for i, doc in enumerate(changed):
                if progress:
                    progress("chunk", i, len(changed))
                chunks = _chunks_for(doc, settings, embedder)
                new_files[doc.source] = state.FileEntry(doc.sha256, [c.id for c in chunks])
                pending.extend(chunks)
            stored = set(old.chunk_ids()) - lost
            _embed_and_store(pending, embedder, store, settings.batch_size, stored, report, progress)
            new = state.Manifest(
                old.generation + 1, sig, embedder.name, str(root.resolve()), time.time(), new_files,
                state.process_token(),
            )
            _write_keyword_index(state_dir, old, new, pending, store)
            if before_commit:
                before_commit()
        except BaseException:
            _discard_uncommitted(store, pending, old)
            raise
        state.save(state_dir, new)
        keep = set(new.chunk_ids())
        stale = [c for c in old.chunk_ids() if c not in keep]
        if dirty:
            stale = [c for c in store.all_ids() if c not in keep]
        store.delete(stale)
        if stale:
            state.touch(state_dir)
        for folder in state_dir.glob("keyword-*"):
            gen = folder.name.removeprefix("keyword-").removesuffix(".tmp")
            if not gen.isdigit() or int(gen) < new.generation - 1:
                shutil.rmtree(folder, ignore_errors=True)
        (state_dir / state.DIRTY).unlink(missing_ok=True)
        report.chunks = len(keep)
        report.generation = new.generation
    report.seconds = time.perf_counter() - started
    return report


def _under_any(source: str, folders: list[str]) -> bool:
    """Whether ``source`` is one of ``folders`` or lies below one ("." is the root)."""
    return any(f == "." or source == f or source.startswith(f + "/") for f in folders)


def _discard_uncommitted(store: Store, pending: list[StoredChunk], old: state.Manifest) -> None:
    """After a failed run, take its uncommitted chunks out of Chroma so they cannot crowd the old index's
    results; best effort: whatever is left is collected by the next run (the dirty marker stays)."""
    old_ids = set(old.chunk_ids())
    ids = sorted({c.id for c in pending if c.id not in old_ids})
    try:
        store.delete(ids)
    except Exception:  # noqa: BLE001 - the original failure is the one to report
        log.warning("could not remove %d uncommitted chunks; the next run will", len(ids))


def _lost_chunks(store: Store, old: state.Manifest, dirty: bool) -> set[str]:
    """Committed chunks Chroma no longer holds (a server restored from an older backup, a wiped data folder):
    their files are indexed again rather than answering from nothing. Costs one count when all is well."""
    committed = old.chunk_ids()
    if not committed or (not dirty and store.count() >= len(committed)):
        return set()
    return set(committed) - set(store.all_ids())


def _embed_and_store(
    pending: list[StoredChunk], embedder: Embedder, store: Store, batch_size: int, stored: set[str],
    report: IndexReport, progress: Progress | None,
) -> None:
    """Upsert new chunks (those not among ``stored``), reusing vectors of text already embedded anywhere in
    the collection."""
    todo = [c for c in pending if c.id not in stored]
    reusable = store.find_by_hash(sorted({c.hash for c in todo})) if todo else {}
    fresh: list[StoredChunk] = []
    reused: list[StoredChunk] = []
    for c in todo:
        hit = reusable.get(c.hash)
        if hit is not None and hit.embedding is not None:
            reused.append(_with_vectors(c, hit.embedding, hit.lines_matrix()))
        else:
            fresh.append(c)
    store.upsert(reused)
    report.reused = len(reused)
    step = batch_size * 4
    for i in range(0, len(fresh), step):
        if progress:
            progress("embed", i, len(fresh))
        batch = fresh[i : i + step]
        texts = [_keyword_text(c) for c in batch]
        spans = [_unit_spans(c) for c in batch]
        vectors, line_vectors = embedder.embed_passages(texts, spans)
        store.upsert([_with_vectors(c, v, lv) for c, v, lv in zip(batch, vectors, line_vectors, strict=True)])
        report.embedded += len(batch)
    if progress:
        progress("embed", len(fresh), len(fresh))


def _unit_spans(chunk: StoredChunk) -> list[tuple[int, int]]:
    pos = len(chunk.context) + 1 if chunk.context else 0
    spans = []
    for line in chunk.text.split("\n"):
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def _with_vectors(chunk: StoredChunk, embedding: np.ndarray | None, line_vectors: np.ndarray | None) -> StoredChunk:
    return replace(chunk, embedding=embedding, line_vectors=line_vectors)


def _write_keyword_index(
    state_dir: Path, old: state.Manifest, new: state.Manifest, pending: list[StoredChunk], store: Store
) -> None:
    """BM25 for the new generation: terms of kept chunks come from the last generation's cache."""
    cache: dict[str, list[str]] = {}
    previous = state.keyword_dir(state_dir, old.generation) / "terms.json"
    if previous.exists():
        cache = json.loads(previous.read_text())
    for c in pending:
        cache[c.id] = terms(_keyword_text(c))
    ids = new.chunk_ids()
    missing = [cid for cid in ids if cid not in cache]
    for c in store.get(missing):
        cache[c.id] = terms(_keyword_text(c))
    ids = [cid for cid in ids if cid in cache]
    term_lists = [cache[cid] for cid in ids]
    KeywordIndex.build_from_terms(ids, term_lists).save(state.keyword_dir(state_dir, new.generation), term_lists)

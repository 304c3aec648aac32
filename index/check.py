"""Is the committed index whole? ``citebot check`` asks in full; ``citebot index`` asks the cheap part every run.

Anything on disk can be damaged behind citebot's back (a failing disk, a backup restored in part, a stray
``rm``), and a damaged index must never answer as if it were whole. What is checked:

- the manifest parses and has the right shape (``state.load``);
- the keyword index of the committed generation loads, its arrays agree with each other, and it holds exactly
  the committed chunk ids;
- Chroma opens, holds every committed chunk (by id: chunks no manifest owns can hide a loss from a count),
  and has a vector for each.

Each problem is one line: what is wrong, and what ``citebot check --repair`` (or the next ``citebot index``)
does about it. This module only reads: readers (search) import it. What a repair writes is in ``repair.py``;
starting over from a damaged manifest and embedding lost chunks again are index runs (``indexer.build``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np

from . import ledger, state
from .errors import IndexDamaged, IndexMissing, StoreUnavailable, one_line
from .keyword import KeywordIndex
from .settings import Settings
from .store import Store

log = logging.getLogger(__name__)
Part = Literal["manifest", "keyword", "chroma", "chunks", "vectors"]
T = TypeVar("T")
# Committed chunks whose vectors ``index`` reads on every run, spread evenly over the manifest. A vector index
# that lost its folder loses nearly every vector, so a sample finds it; a scattered loss is left to the full
# check (``citebot check``), which reads every vector (1.3-2.5 s for 20,000 chunks here, too slow to pay on
# every run). 100 was picked by hand: one small ``get``, a few milliseconds.
VECTOR_SAMPLE = 100
# Times ``inspect`` looks again when a commit lands while it looks (the commit deletes chunks of the generation
# it was looking at); as for questions in search.py, three covers commits landing back to back.
INSPECT_ATTEMPTS = 3
REPAIR = "`citebot check --repair` (or the next `citebot index`)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the index: what (``problem``) and what a repair does about it (``fix``)."""

    part: Part
    problem: str
    fix: str

    def line(self) -> str:
        return f"{self.problem}; {self.fix}"

    def to_json(self) -> dict[str, str]:
        return {"part": self.part, "problem": self.problem, "fix": self.fix}


@dataclass
class CheckReport:
    """What ``check`` found (and, after ``--repair``, what it did and what is left)."""

    where: str  # the Chroma directory or server
    manifest: state.Manifest | None = None  # the committed manifest, when it could be read
    problems: list[Problem] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # what a repair did, one line each
    lost: set[str] = field(default_factory=set)  # committed chunk ids Chroma lost, or holds without a vector

    @property
    def healthy(self) -> bool:
        return not self.problems

    def verdict(self) -> str:
        """The last line of ``citebot check``."""
        if self.healthy and self.manifest is not None:
            m = self.manifest
            return (f"healthy: the index at {self.where} (generation {m.generation}: {len(m.files)} files, "
                    f"{len(m.chunk_ids())} chunks)")
        return f"damaged: {len(self.problems)} problem(s) in the index at {self.where}"

    def to_json(self) -> dict[str, object]:
        m = self.manifest
        return {
            "healthy": self.healthy, "where": self.where,
            "generation": m.generation if m else None, "files": len(m.files) if m else None,
            "chunks": len(m.chunk_ids()) if m else None,
            "problems": [p.to_json() for p in self.problems], "repaired": self.repaired,
        }


def inspect(settings: Settings, store: Store, thorough: bool = True) -> CheckReport:
    """Check the committed index at ``settings``' location; ``IndexMissing`` when nothing is indexed there.

    ``thorough`` reads every committed vector; without it, a sample (``VECTOR_SAMPLE``), and all of them only
    when the sample finds one lost. A commit landing meanwhile makes it look again, so that the chunks that
    commit deletes (those only the older generation owned) are not reported lost.
    """
    books = ledger.open_ledger(settings)
    for _ in range(INSPECT_ATTEMPTS):
        stamp = books.stamp()
        report = _inspect_once(settings, store, books, thorough)
        if books.stamp() == stamp:
            break
    return report


def _inspect_once(settings: Settings, store: Store, books: state.Ledger, thorough: bool) -> CheckReport:
    state_dir = books.state_dir
    report = CheckReport(store.where)
    try:
        report.manifest = books.load()
    except IndexDamaged as exc:
        report.problems.append(Problem("manifest", exc.problem, exc.fix))
    if report.manifest is None and not report.problems and not settings.chroma_host and not settings.db_path.exists():
        raise _nothing_indexed(store)
    held = _in_chroma(report, store.count, settings)
    manifest = report.manifest
    if manifest is None:
        if not report.problems:  # no manifest, nothing damaged: indexed never, or its manifest deleted
            if not held and not books.generation_floor():
                raise _nothing_indexed(store)
            report.problems.append(Problem(
                "manifest", f"the manifest {books.where} is missing, but {store.where} holds {held} "
                "chunk(s)", "`citebot index DIR` (or `citebot check --repair DIR`) indexes DIR again, reusing the "
                "stored vectors, and removes the chunks no file owns",
            ))
        return report
    # A server-mode keyword folder is a cache that every process rebuilds for itself (keyword_cache.py).
    problem = None if books.keyword_cache else keyword_problem(state_dir, manifest)
    if problem is not None:
        report.problems.append(problem)
    lost = _in_chroma(report, lambda: lost_chunks(store, manifest, thorough), settings) if held is not None else None
    if lost is not None:
        gone, no_vectors = lost
        report.lost = gone | no_vectors
        report.problems += chunk_problems(manifest, gone, no_vectors, store.where)
    return report


def _nothing_indexed(store: Store) -> IndexMissing:
    return IndexMissing(f"nothing is indexed at {store.where} yet: run `citebot index DIR` first")


def _in_chroma(report: CheckReport, ask: Callable[[], T], settings: Settings) -> T | None:
    """``ask()``'s answer, or None (and a problem) when Chroma fails to give one. An unreachable server is
    not damage: ``StoreUnavailable`` goes to the caller, as from any other command."""
    try:
        return ask()
    except StoreUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever Chroma raises, the user gets one line
        fix = "citebot cannot repair a server's collection: restore it from a backup, or index into a new collection"
        if not settings.chroma_host:
            fix = ("`citebot check --repair` sets its vector index aside and embeds the chunks again, when that is "
                   "what is damaged; else restore the folder from a backup, or index into a new --db")
        report.problems.append(Problem("chroma", f"Chroma at {report.where} does not open or read ({one_line(exc)})",
                                       fix))
        return None


# --- the keyword index --------------------------------------------------------------------------------------------


def keyword_problem(state_dir: Path, manifest: state.Manifest) -> Problem | None:
    """What is wrong with the keyword index of ``manifest``'s generation, or None."""
    return _keyword(state_dir, manifest)[1]


def load_keyword(state_dir: Path, manifest: state.Manifest) -> KeywordIndex:
    """The keyword index of ``manifest``'s generation, checked whole; ``IndexDamaged`` says what is wrong."""
    index, problem = _keyword(state_dir, manifest)
    if problem is not None:
        raise IndexDamaged(problem.problem, problem.fix)
    assert index is not None
    return index


def _keyword(state_dir: Path, manifest: state.Manifest) -> tuple[KeywordIndex | None, Problem | None]:
    folder = state.keyword_dir(state_dir, manifest.generation)
    try:
        index = KeywordIndex.load(folder)
        flaw = _keyword_flaw(index, manifest.chunk_ids())
    except FileNotFoundError as exc:
        flaw = "is missing" if not folder.is_dir() else f"is incomplete ({Path(exc.filename or '?').name} is missing)"
    except Exception as exc:  # noqa: BLE001 - garbage fails in many ways (JSON, numpy, bm25s); each is damage
        flaw = f"cannot be read ({one_line(exc)})"
    if flaw is None:
        return index, None
    return None, Problem(
        "keyword", f"the keyword index of generation {manifest.generation} at {folder} {flaw}",
        f"{REPAIR} rebuilds it from the stored chunks",
    )


def _keyword_flaw(index: KeywordIndex, committed: list[str]) -> str | None:
    """Why a keyword index that loaded cannot serve ``committed``, or None."""
    ids = index.ids
    if not isinstance(ids, list) or not all(isinstance(cid, str) for cid in ids) or not isinstance(index.idf, dict):
        return "cannot be read (its ids or word weights have the wrong shape)"
    held, wanted = set(ids), set(committed)
    if len(held) != len(ids):
        return "does not match the manifest (it lists a chunk twice)"
    if held != wanted:
        return (f"does not match the manifest (it holds {len(held & wanted)} of the {len(wanted)} committed chunks "
                f"and {len(held - wanted)} others)")
    if index.retriever is not None:
        return _bm25_flaw(index.retriever.scores, len(ids))
    return None


def _bm25_flaw(scores: dict[str, object], n: int) -> str | None:
    """Arrays that load but disagree would fail a search (an index out of range) or rank nonsense."""
    data, indices, indptr = (np.asarray(scores[k]) for k in ("data", "indices", "indptr"))
    if int(scores["num_docs"]) != n:  # type: ignore[call-overload]
        return f"does not match its ids (its BM25 arrays describe {scores['num_docs']} chunks, not {n})"
    whole = (
        indptr.ndim == 1 and len(indptr) >= 1 and indptr[0] == 0 and indptr[-1] == len(indices) == len(data)
        and bool(np.all(np.diff(indptr) >= 0))
        and (len(indices) == 0 or (int(indices.min()) >= 0 and int(indices.max()) < n))
    )
    return None if whole else "cannot be read (its BM25 arrays disagree with each other)"


# --- chunks and vectors in Chroma ------------------------------------------------------------------------------------


def lost_chunks(store: Store, manifest: state.Manifest, thorough: bool = True) -> tuple[set[str], set[str]]:
    """(committed ids Chroma does not hold, committed ids it holds without a vector), found by id."""
    committed = manifest.chunk_ids()
    if not committed:
        return set(), set()
    present = store.existing_ids(committed)
    gone = set(committed) - present
    held = [cid for cid in committed if cid in present]
    sample = held if thorough else held[:: max(1, len(held) // VECTOR_SAMPLE)]
    no_vectors = store.missing_vectors(sample)
    if no_vectors and not thorough:
        no_vectors = store.missing_vectors(held)
    return gone, no_vectors


def files_of(manifest: state.Manifest, ids: set[str]) -> set[str]:
    """The committed files that own any of ``ids``."""
    return {source for source, entry in manifest.files.items() if ids.intersection(entry.chunks)}


def chunk_problems(manifest: state.Manifest, gone: set[str], no_vectors: set[str], where: str) -> list[Problem]:
    fix = f"{REPAIR} indexes those files again from {manifest.root or 'the indexed folder'}"
    problems = []
    if gone:
        problems.append(Problem(
            "chunks", f"{len(gone)} indexed chunk(s) of {len(files_of(manifest, gone))} file(s) are missing from "
            f"{where}", fix,
        ))
    if no_vectors:
        problems.append(Problem(
            "vectors", f"{len(no_vectors)} indexed chunk(s) of {len(files_of(manifest, no_vectors))} file(s) have no "
            f"vector in {where} (its vector index lost them)", fix,
        ))
    return problems


# What a local Chroma directory keeps in each vector (HNSW) segment folder, named by the segment's UUID (chromadb
# 1.5); the records, text and metadata are in chroma.sqlite3, so vectors lost with a folder can be embedded again.
_SEGMENT_FILES = ("header.bin", "data_level0.bin", "index_metadata.pickle")


def vector_segments(db_path: Path) -> list[Path]:
    """The vector segment folders of a local Chroma directory."""
    found = []
    for folder in db_path.iterdir() if db_path.is_dir() else []:
        try:
            uuid.UUID(folder.name)
        except ValueError:
            continue
        if folder.is_dir() and any((folder / name).exists() for name in _SEGMENT_FILES):
            found.append(folder)
    return found

"""The keyword index a process builds for itself from the committed chunks (server mode, issue 13).

On a Chroma server the manifest is shared but BM25 is not: each replica builds the keyword index of each
committed generation from the chunks, keeps it in memory, and saves it in its local state folder as a cache
(``keyword-N/``, with the terms of every chunk), so that a restart loads it and the next generation only reads
the chunks it adds. Deleting the folder costs one rebuild. Reading code: it writes only this process's cache.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import uuid
from pathlib import Path

from . import check, state
from .chunker import embedded_text
from .errors import IndexDamaged, one_line
from .keyword import KeywordIndex
from .store import Store, StoredChunk
from .textproc import terms

log = logging.getLogger(__name__)
TERMS_FILE = "terms.json"


def keyword_terms(chunk: StoredChunk) -> list[str]:
    """What the keyword index indexes of a chunk: the words of what the model embeds (passage and headings).
    Interned: a million chunks hold some 60 million terms but only tens of thousands of distinct ones."""
    return [sys.intern(t) for t in terms(embedded_text(chunk.context, chunk.text))]


def cached_terms(state_dir: Path, generation: int) -> dict[str, list[str]]:
    """The terms per chunk id saved with ``generation``'s keyword index (so that a new generation does not
    read every kept chunk back from Chroma); empty when missing or unreadable.

    Saved as one space-separated string per chunk (``KeywordIndex.write``; terms hold no spaces), split and
    interned here one chunk at a time: parsed as lists, a million chunks' terms took 6.7 GiB at the peak
    (scripts/measure_keyword_rebuild.py). Lists, as written before, are read too.
    """
    try:
        cache = json.loads((state.keyword_dir(state_dir, generation) / TERMS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("the keyword terms cache of generation %d is unreadable (%s); reading chunks instead",
                    generation, one_line(exc))
        return {}
    if not isinstance(cache, dict):
        return {}
    for cid, value in cache.items():  # in place: each string is freed as its list replaces it
        if isinstance(value, str):
            cache[cid] = [sys.intern(t) for t in value.split()]
        elif not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            return {}
    return cache


def for_commit(cache: Path, manifest: state.Manifest, store: Store) -> KeywordIndex:
    """The keyword index of ``manifest``'s generation: the cached one when it is there and whole, else built
    from the stored chunks (terms of the newest cached generation reused, the rest read from Chroma) and
    cached for next time (best effort: a cache that cannot be written costs a rebuild on the next start)."""
    try:
        return check.load_keyword(cache, manifest)
    except IndexDamaged as exc:
        if state.keyword_dir(cache, manifest.generation).exists():
            log.warning("rebuilding the cached keyword index: %s", exc.problem)
    known = cached_terms(cache, state.latest_keyword_generation(cache))
    ids = manifest.chunk_ids()
    for chunk in store.get([cid for cid in ids if cid not in known]):
        known[chunk.id] = keyword_terms(chunk)
    kept = [cid for cid in ids if cid in known]
    if len(kept) < len(ids):  # `citebot index` finds them by id and embeds them again
        log.warning("%d committed chunk(s) are missing from %s: left out of the keyword index", len(ids) - len(kept),
                    store.where)
    term_lists = [known[cid] for cid in kept]
    index = KeywordIndex.build_from_terms(kept, term_lists)
    _save(index, term_lists, cache, manifest.generation)
    return index


def _save(index: KeywordIndex, term_lists: list[list[str]], cache: Path, generation: int) -> None:
    """Into a folder of this process's own, renamed into place whole; another replica sharing the folder may
    have saved the same generation first, and then keeps its copy."""
    folder = state.keyword_dir(cache, generation)
    tmp = cache / f".{folder.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    try:
        index.write(tmp, term_lists)
        try:
            os.rename(tmp, folder)
        except OSError:  # there already: written by another process, or a damaged copy to replace
            if check.keyword_problem(cache, _ids_only(index, generation)) is None:
                return
            shutil.rmtree(folder, ignore_errors=True)
            os.rename(tmp, folder)
        for old in state.old_keyword_dirs(cache, generation):
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        log.warning("cannot cache the keyword index in %s (%s); it is kept in memory only", cache, one_line(exc))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _ids_only(index: KeywordIndex, generation: int) -> state.Manifest:
    """A manifest holding exactly ``index``'s ids, to check a cached folder against."""
    return state.Manifest(generation=generation, files={"": state.FileEntry("", list(index.ids))})

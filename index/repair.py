"""What a repair (and the indexer) writes into the state folder and the store: keyword indexes, set-aside folders.

Kept apart from ``check.py``, which only reads and which readers import: reading code never imports writing code.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from . import state
from .keyword import KeywordIndex
from .keyword_cache import cached_terms, keyword_terms
from .store import Store

__all__ = ["cached_terms", "keyword_terms", "put_back", "rebuild_keyword_index", "set_aside", "write_keyword_index"]

log = logging.getLogger(__name__)


def write_keyword_index(
    state_dir: Path, manifest: state.Manifest, store: Store, cache: dict[str, list[str]] | None = None
) -> int:
    """Build and save the keyword index of ``manifest``'s generation (whole or not at all: ``KeywordIndex.save``);
    terms come from ``cache`` where it has them, else from the chunks Chroma holds. Returns how many chunks it
    holds: a committed chunk Chroma lost is left out (and ``check`` reports the mismatch)."""
    cache = dict(cache or {})
    ids = manifest.chunk_ids()
    for chunk in store.get([cid for cid in ids if cid not in cache]):
        cache[chunk.id] = keyword_terms(chunk)
    kept = [cid for cid in ids if cid in cache]
    if len(kept) < len(ids):
        log.warning("%d committed chunk(s) are in neither Chroma nor the terms cache: left out of the keyword index",
                    len(ids) - len(kept))
    term_lists = [cache[cid] for cid in kept]
    KeywordIndex.build_from_terms(kept, term_lists).save(state.keyword_dir(state_dir, manifest.generation), term_lists)
    return len(kept)


def rebuild_keyword_index(state_dir: Path, store: Store, manifest: state.Manifest) -> str:
    """Write the committed generation's keyword index again from the stored chunks (the writer lock held), and
    tell readers to load it; returns what was done, in one line."""
    held = write_keyword_index(state_dir, manifest, store)
    state.touch(state_dir)
    return f"rebuilt the keyword index of generation {manifest.generation} from {held} stored chunk(s)"


def set_aside(folders: list[Path]) -> list[Path]:
    """Rename each of ``folders`` to ``NAME.damaged-TIME`` beside it (kept for a post-mortem); where they went."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    moved = []
    for folder in folders:
        aside = folder.with_name(f"{folder.name}{state.DAMAGED}{stamp}")
        os.replace(folder, aside)
        moved.append(aside)
    return moved


def put_back(moved: list[Path]) -> None:
    """Undo ``set_aside``."""
    for aside in moved:
        os.replace(aside, aside.with_name(aside.name.split(state.DAMAGED)[0]))

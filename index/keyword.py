"""BM25 over chunk terms, saved in the state folder under the generation it belongs to."""

from __future__ import annotations

import json
import logging
import math
import shutil
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import bm25s
import numpy as np

from .textproc import terms

logging.getLogger("bm25s").setLevel(logging.WARNING)


@dataclass
class KeywordIndex:
    ids: list[str]
    retriever: bm25s.BM25 | None
    idf: dict[str, float]

    @classmethod
    def build(cls, ids: list[str], texts: list[str]) -> KeywordIndex:
        return cls.build_from_terms(ids, [terms(t) for t in texts])

    @classmethod
    def build_from_terms(cls, ids: list[str], term_lists: list[list[str]]) -> KeywordIndex:
        tokenized = [toks or [""] for toks in term_lists]
        retriever = None
        if ids:
            retriever = bm25s.BM25()
            retriever.index(tokenized, show_progress=False)
        df: Counter[str] = Counter()
        for toks in tokenized:
            df.update(set(toks))
        n = max(len(ids), 1)
        idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items() if t}
        return cls(ids, retriever, idf)

    def search(self, query_terms: list[str], k: int) -> list[tuple[str, float]]:
        """Best ``k`` (id, score) pairs with a positive score."""
        if self.retriever is None or not query_terms:
            return []
        scores = np.asarray(self.retriever.get_scores(query_terms))
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def knows(self, term: str) -> bool:
        """Whether any indexed passage uses ``term`` (a stem, as ``terms`` gives it)."""
        return term in self.idf

    def extends(self, term: str, most: int | None = None) -> bool:
        """Whether an indexed passage uses a longer word that starts with ``term`` ("mac" in "macos"), at most
        ``most`` letters longer when given."""
        known = self._sorted_terms
        i = bisect_right(known, term)
        while i < len(known) and known[i].startswith(term):  # the words that start with it, in order
            if most is None or len(known[i]) - len(term) <= most:
                return True
            i += 1
        return False

    def near(self, term: str) -> bool:
        """Whether an indexed passage uses a word one edit from ``term`` (a letter added, dropped, changed or two
        swapped): how a misspelling ("seperating", "priciple") finds the word meant. Tries every such edit (a
        few hundred lookups), faster than any walk over the vocabulary."""
        letters = "abcdefghijklmnopqrstuvwxyz"
        splits = [(term[:i], term[i:]) for i in range(len(term) + 1)]
        edits = {a + b[1:] for a, b in splits if b}
        edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        edits |= {a + c + b[1:] for a, b in splits if b for c in letters}
        edits |= {a + c + b for a, b in splits for c in letters}
        edits.discard(term)
        return any(e in self.idf for e in edits)

    @cached_property
    def _sorted_terms(self) -> list[str]:
        return sorted(self.idf)

    def term_idf(self, term: str) -> float:
        """Rare words weigh more when scoring lines; unseen words weigh as the rarest."""
        return self.idf.get(term, math.log(1 + (len(self.ids) + 0.5) / 0.5))

    def save(self, folder: Path, term_lists: list[list[str]] | None = None) -> None:
        """Write to a temporary folder, then rename: readers see a whole index or none."""
        tmp = folder.with_name(folder.name + ".tmp")
        self.write(tmp, term_lists)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)

    def write(self, folder: Path, term_lists: list[list[str]] | None = None) -> None:
        """Write into ``folder`` (emptied first); ``term_lists``, the terms of each id, are kept for the next
        generation's build (``keyword_cache.cached_terms``: terms hold no spaces, so each id's are one string)."""
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        if self.retriever is not None:
            self.retriever.save(str(folder / "bm25"))
        (folder / "ids.json").write_text(json.dumps(self.ids))
        (folder / "idf.json").write_text(json.dumps(self.idf))
        if term_lists is not None:  # one string a chunk: reads back in a fifth of the memory of lists (1M chunks)
            terms = {cid: " ".join(toks) for cid, toks in zip(self.ids, term_lists, strict=True)}
            (folder / "terms.json").write_text(json.dumps(terms))

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        ids = json.loads((folder / "ids.json").read_text())
        idf = json.loads((folder / "idf.json").read_text())
        retriever = bm25s.BM25.load(str(folder / "bm25")) if ids else None
        return cls(ids, retriever, idf)

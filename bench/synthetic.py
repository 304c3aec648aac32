"""Deterministic synthetic chunks for the store-scale section: text, terms and unit vectors.

Chunk ``i`` is the same in every process (its block of 1,000 has its own seeded generator), so the
Chroma grower and the BM25 probe, which run in separate processes, see the same corpus.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

DIM = 384  # all-MiniLM-L6-v2
BLOCK = 1000
LINES, WORDS_PER_LINE = 5, 12
VOCAB = 50_000
_ONSETS = ("", "b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr", "ch")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou")


@lru_cache(maxsize=1)
def vocabulary() -> tuple[str, ...]:
    """``VOCAB`` distinct pronounceable words, so the stemmer and BM25 see word-like tokens."""
    syllables = [o + v for o in _ONSETS for v in _VOWELS]
    words: list[str] = []
    seen: set[str] = set()
    rng = np.random.default_rng(7)
    while len(words) < VOCAB:
        parts = rng.integers(0, len(syllables), int(rng.integers(2, 5)))
        word = "".join(syllables[p] for p in parts)
        if word not in seen:
            seen.add(word)
            words.append(word)
    return tuple(words)


@lru_cache(maxsize=1)
def _word_probabilities() -> np.ndarray:
    """Zipf-like word frequencies, as in natural text: a few very common words, a long rare tail."""
    p = 1.0 / np.arange(1, VOCAB + 1) ** 1.05
    return p / p.sum()


def _rng(block: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, block])


def word_ids(block: int, seed: int = 0) -> np.ndarray:
    """Word indices of the chunks in ``block``: shape (BLOCK, LINES * WORDS_PER_LINE)."""
    rng = _rng(block, seed)
    return rng.choice(VOCAB, size=(BLOCK, LINES * WORDS_PER_LINE), p=_word_probabilities())


def vectors(block: int, seed: int = 0) -> np.ndarray:
    """Random unit vectors for the chunks in ``block``."""
    rng = _rng(block, seed + 1)
    v = rng.standard_normal((BLOCK, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def texts(ids: np.ndarray) -> list[str]:
    vocab = vocabulary()
    out = []
    for row in ids:
        words = [vocab[i] for i in row]
        out.append("\n".join(" ".join(words[j : j + WORDS_PER_LINE]) for j in range(0, len(words), WORDS_PER_LINE)))
    return out


@lru_cache(maxsize=1)
def _vocab_terms() -> tuple[tuple[str, ...], ...]:
    from citebot.index.textproc import terms

    return tuple(tuple(terms(w)) for w in vocabulary())


def term_lists(ids: np.ndarray) -> list[list[str]]:
    """What ``index.textproc.terms`` makes of each chunk's text, computed once per vocabulary word."""
    vt = _vocab_terms()
    return [[t for i in row for t in vt[i]] for row in ids]

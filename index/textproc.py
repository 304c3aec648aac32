"""Word-level text helpers shared by cleaning, keyword search and line scoring."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

WORD = re.compile(r"[^\W_]+", re.UNICODE)  # a word: letters and digits, as written

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    s t don doesn didn isn wasn weren aren hasn haven won wouldn shouldn couldn also""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens, punctuation dropped."""
    return WORD.findall(text.lower())


def stem_words(tokens: list[str]) -> list[str]:
    """English stems, the same the keyword index uses."""
    return list(_stemmer().stemWords(tokens))


def terms(text: str) -> list[str]:
    """Stemmed content words: what keyword search and lexical line scoring compare."""
    return _stemmer().stemWords([w for w in words(text) if w not in STOPWORDS])


def normalize_line(text: str) -> str:
    """The form under which two lines count as the same line."""
    return " ".join(text.split()).casefold()

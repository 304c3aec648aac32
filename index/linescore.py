"""Score every line of a passage as the answer to a question, from signals that hold on any text.

A line answers when it sits in the sentence that matches the question (rare question words,
meaning) but also carries what the question lacks: the name, number or date it asks for. So
each line is described by its own match, its neighbours' match when the sentence runs on across
the line break (wrapped prose), its sentence's match, how strongly question words pull on the
new words it holds, and whether it holds the kind of token the question type wants. A logistic
model over these features turns them into a score: its weights are data, ``line_scorer.json``
beside this file, keyed by feature name and written by ``scripts/fit_line_scorer.py`` (``make train``).
Passages that name code (documentation) are scored by a second model over the same features,
``line_scorer_code.json``, fitted on documentation questions: there the answering line is the one
that names what to use or set, and Wikipedia prose (what the first model learns from) has none.

Everything that depends only on the passage is computed once per chunk (``prepare``) and cached
by the searcher; everything that depends only on the question once per question (``Query``); so
scoring a line costs a few vector operations. ``linepick.py`` is the one caller at answer time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import weights
from .textproc import STOPWORDS, stem_words, terms, words

SCORER_FILE = Path(__file__).with_name("line_scorer.json")
CODE_SCORER_FILE = Path(__file__).with_name("line_scorer_code.json")  # for passages that name code

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s+|$)")
_ASKS = re.compile(r"\?[\"'”’)\]*]*\s*$")  # a question mark ends the line, maybe inside quotes or bold
_ENDS_SENTENCE = re.compile(r"[.!?…:;][\"'”’)\]]*\s*$")
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b")
_MONTHS = re.compile(
    r"\b(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(tember)?|oct(ober)?|nov(ember)?"
    r"|dec(ember)?|monday|tuesday|wednesday|thursday|friday|saturday|sunday|century|decade)\b",
    re.IGNORECASE,
)
# A line that names code: inline code, a snake_case identifier, a call, an assignment, an indented code
# line. In documentation the answering line is usually the one that names what to use or set ("set
# `ENABLE_PALETTE = False`"), not the one that restates the problem. Camel case and dotted words are left
# out: Wikipedia's "McDonald", "YouTube" and "U.S." would make prose look like code.
_CODE = re.compile(r"`[^`\n]+`|\b[A-Za-z]\w*_\w+|\b\w+\(|\s=\s|^(?: {4}|\t)\S")
_QUANTITY = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion|percent)\b", re.IGNORECASE
)
# Set by hand with the features (5d90460) and frozen since: the fitted weights are only valid for these values.
PROXIMITY_SCALE = 6.0  # words: how fast a question word's pull on its neighbours fades
LINE_GAP = 30.0  # words of distance added across a line break that ends a sentence or paragraph
NEW_CAPS_FULL = 3  # new capitalized words that count as a whole name: most names run to one to three words
SHORT_LINE_WORDS = 6  # fewer words than this: a label, a heading or a list item more than a sentence

FEATURES = (
    "lex", "lex_prev", "lex_next", "lex_rel", "sem", "sem_prev", "sem_next", "sem_rel", "sent_lex", "novelty",
    "who_cap", "when_date", "num_qty", "where_cap", "new_caps", "has_number", "heading", "short",
    "prox", "prox_rel", "prox_typed", "prox_typed_rel", "code",
)


@dataclass(frozen=True)
class PassageLines:
    """What scoring needs to know about a passage's lines, independent of any question."""

    lines: tuple[str, ...]
    line_terms: tuple[frozenset[str], ...]
    sentence_terms: tuple[tuple[frozenset[str], tuple[int, ...]], ...]  # each sentence and the lines it touches
    joined: np.ndarray  # joined[i]: line i runs on into line i+1 (no sentence end at the break)
    token_line: np.ndarray  # per word: its line
    token_pos: np.ndarray  # per word: position, with a gap at every break that is not a run-on
    token_stem: tuple[str, ...]
    token_candidate: np.ndarray  # per word: could be (part of) an answer: not a stop word
    token_capital: np.ndarray
    token_digit: np.ndarray
    token_date: np.ndarray
    caps: tuple[frozenset[str], ...]  # capitalized words of each line, lower-cased
    has_date: np.ndarray
    has_quantity: np.ndarray
    has_number: np.ndarray
    heading: np.ndarray
    short: np.ndarray
    code: np.ndarray  # the line names code (``_CODE``)
    # The line ends in a question ("I've made a mistake in the last commit. How do I change it?"): an FAQ's
    # entry, or a sentence a page asks before answering it. It restates what a member asks and never answers
    # it: none of the 367 gold lines of the three documentation dev sets ends in "?". Never the answering line.
    asks: np.ndarray


def prepare(lines: Sequence[str]) -> PassageLines:
    """Tokenize and classify a passage's lines once."""
    n = len(lines)
    line_terms = tuple(frozenset(terms(line)) for line in lines)
    joined = np.array(
        [bool(lines[i].strip()) and not _ENDS_SENTENCE.search(lines[i]) and i + 1 < n and bool(lines[i + 1].strip())
         for i in range(n)], dtype=bool)
    sentences: list[tuple[frozenset[str], tuple[int, ...]]] = []
    current: set[str] = set()
    members: list[int] = []
    for i, line in enumerate(lines):
        pieces = _SENTENCE_END.split(line)
        for j, piece in enumerate(pieces):
            current |= set(terms(piece))
            if i not in members:
                members.append(i)
            if j < len(pieces) - 1 or not joined[i]:
                sentences.append((frozenset(current), tuple(members)))
                current, members = set(), [i]
    if current:
        sentences.append((frozenset(current), tuple(members)))
    tok_line: list[int] = []
    tok_pos: list[float] = []
    raw: list[str] = []
    pos = 0.0
    for i, line in enumerate(lines):
        for w in _TOKEN.findall(line):
            raw.append(w)
            tok_line.append(i)
            tok_pos.append(pos)
            pos += 1
        if not joined[i]:
            pos += LINE_GAP
    stems = stem_words([w.lower() for w in raw])
    code = np.array([bool(_CODE.search(x)) for x in lines], dtype=np.float32)
    return PassageLines(
        lines=tuple(lines),
        line_terms=line_terms,
        sentence_terms=tuple(sentences),
        joined=joined,
        token_line=np.array(tok_line, dtype=np.int32),
        token_pos=np.array(tok_pos, dtype=np.float32),
        token_stem=tuple(stems),
        token_candidate=np.array([w.lower() not in STOPWORDS for w in raw], dtype=bool),
        token_capital=np.array([w[:1].isupper() for w in raw], dtype=bool),
        token_digit=np.array([w[:1].isdigit() for w in raw], dtype=bool),
        token_date=np.array([bool(_MONTHS.fullmatch(w)) for w in raw], dtype=bool),
        caps=tuple(frozenset(w.lower() for w in _TOKEN.findall(line)[1:] if w[:1].isupper()) for line in lines),
        has_date=np.array([bool(_YEAR.search(x) or _MONTHS.search(x)) for x in lines], dtype=np.float32),
        has_quantity=np.array([bool(_QUANTITY.search(x)) for x in lines], dtype=np.float32),
        has_number=np.array([any(c.isdigit() for c in x) for x in lines], dtype=np.float32),
        heading=np.array([x.lstrip().startswith("#") for x in lines], dtype=np.float32),
        short=np.array([len(words(x)) < SHORT_LINE_WORDS for x in lines], dtype=np.float32),
        code=code,
        asks=np.array([bool(_ASKS.search(x)) for x in lines], dtype=bool) & (code == 0),
    )


@dataclass(frozen=True)
class Query:
    """What scoring needs to know about the question, computed once per question: its text, its vector,
    the keyword index's weight of each of its terms, and what kind of token it asks for."""

    text: str
    vector: np.ndarray
    idf: dict[str, float]  # per distinct question term
    total: float  # the idf of all its terms: what coverage is a share of
    words: frozenset[str]
    kind: dict[str, bool]  # question_type(text)

    @classmethod
    def of(cls, text: str, vector: np.ndarray, term_idf: Callable[[str], float]) -> Query:
        """``term_idf`` is the keyword index's (``KeywordIndex.term_idf``): rare words weigh more."""
        idf = {t: term_idf(t) for t in set(terms(text))}
        return cls(text, vector, idf, sum(idf.values()) or 1.0, frozenset(words(text)), question_type(text))


def question_type(question: str) -> dict[str, bool]:
    """Which kind of token the question asks for."""
    q = question.lower()
    return {
        "who": bool(re.search(r"\bwho(m|se)?\b", q)),
        "when": bool(re.search(r"\bwhen\b|\bwhat (year|date|day|month|century|decade|time)\b|\bwhich year\b", q)),
        "num": bool(
            re.search(r"\bhow (many|much|long|far|old|large|big|tall|high)\b|\bwhat (percentage|number|amount)\b"
                      r"|\bnumber of\b", q)
        ),
        "where": bool(re.search(r"\bwhere\b|\bwhat (country|city|state|place|location)\b|\bin which\b", q)),
    }


def _proximity(p: PassageLines, q: Query) -> tuple[np.ndarray, np.ndarray]:
    """Per line, the strongest pull that question words exert on a new (non-question) word in it.

    An answer is the new word next to the question's words: each question term pulls on the words
    around its nearest occurrence, fading with distance and dropping across sentence-ending
    breaks. The typed variant counts only words of the kind the question asks for.
    """
    q_idf, qt = q.idf, q.kind
    n = len(p.lines)
    plain = np.zeros(n, dtype=np.float32)
    typed = np.zeros(n, dtype=np.float32)
    if not len(p.token_pos) or not q_idf:
        return plain, typed
    is_q = np.array([st in q_idf for st in p.token_stem], dtype=bool)
    if not is_q.any():
        return plain, typed
    pull = np.zeros(len(p.token_pos), dtype=np.float32)
    for term in {st for st, q in zip(p.token_stem, is_q) if q}:
        where = p.token_pos[[j for j, st in enumerate(p.token_stem) if st == term]]
        dist = np.min(np.abs(p.token_pos[:, None] - where[None, :]), axis=1)
        pull += q_idf[term] * np.exp(-dist / PROXIMITY_SCALE)
    pull /= q.total
    candidate = p.token_candidate & ~is_q
    kind = np.zeros_like(candidate)
    if qt["who"] or qt["where"]:
        kind |= p.token_capital
    if qt["when"] or qt["num"]:
        kind |= p.token_digit
    if qt["when"]:
        kind |= p.token_date
    np.maximum.at(plain, p.token_line[candidate], pull[candidate])
    typed_mask = candidate & kind
    np.maximum.at(typed, p.token_line[typed_mask], pull[typed_mask])
    return plain, typed


def line_coverage(p: PassageLines, q: Query) -> np.ndarray:
    """Per line, the idf-weighted share of the question's words it contains."""
    return np.array([sum(q.idf[t] for t in ts if t in q.idf) / q.total for ts in p.line_terms], dtype=np.float32)


def line_features(q: Query, p: PassageLines, lexical: np.ndarray, semantic: np.ndarray) -> np.ndarray:
    """One row of ``FEATURES`` per line, from the lines' question-word coverage (``line_coverage``) and
    their similarity to the question (cosine of the line vectors, or ``lexical`` again without them)."""
    n = len(p.lines)
    lex = lexical.astype(np.float32)
    sem = semantic.astype(np.float32)
    run_on_prev = np.concatenate([[False], p.joined[:-1]]).astype(np.float32)
    run_on_next = p.joined.astype(np.float32)

    def prev(a: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], a[:-1]]).astype(np.float32) * run_on_prev

    def nxt(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a[1:], [0.0]]).astype(np.float32) * run_on_next

    sent = np.zeros(n, dtype=np.float32)
    for sentence, members in p.sentence_terms:
        cover = sum(q.idf[t] for t in sentence if t in q.idf) / q.total
        for m in members:
            sent[m] = max(sent[m], cover)
    qt = q.kind
    new_caps = np.array([min(len(c - q.words), NEW_CAPS_FULL) / NEW_CAPS_FULL for c in p.caps], dtype=np.float32)
    novelty = np.array([len([t for t in ts if t not in q.idf]) / max(len(ts), 1) for ts in p.line_terms],
                       dtype=np.float32)
    prox, typed = _proximity(p, q)
    cols = [
        lex, prev(lex), nxt(lex), lex - lex.max(initial=0), sem, prev(sem), nxt(sem), sem - sem.max(initial=0), sent,
        novelty, qt["who"] * new_caps, qt["when"] * p.has_date, qt["num"] * p.has_quantity, qt["where"] * new_caps,
        new_caps, p.has_number, p.heading, p.short, prox, prox - prox.max(initial=0), typed,
        typed - typed.max(initial=0), p.code,
    ]
    return np.stack([np.asarray(c, dtype=np.float32) for c in cols], axis=1)


@dataclass(frozen=True)
class LineScorer:
    """The logistic model over ``FEATURES``: one weight per feature, in ``FEATURES`` order, and a bias.

    ``provenance`` says how the weights were made (script, data, held-out accuracy, commit); it is kept
    as written and never read by scoring.
    """

    weights: np.ndarray
    bias: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def logits(self, features: np.ndarray) -> np.ndarray:
        """The log-odds that each line (row of ``features``) answers the question."""
        return (features @ self.weights + self.bias).astype(np.float32)

    @classmethod
    def from_json(cls, data: object, where: str = "the line scorer's weights") -> LineScorer:
        """Check the weights against ``FEATURES`` by name: a missing or unknown feature is an error naming it."""
        w, bias, provenance = weights.parse(data, FEATURES, where, "scripts/fit_line_scorer.py (make train)")
        return cls(w, bias, provenance)

    @classmethod
    def load(cls, path: Path = SCORER_FILE) -> LineScorer:
        return cls.from_json(weights.read_json(path, "the line scorer's weights"), str(path))

    def to_json(self) -> dict[str, Any]:
        """The file's content: weights by feature name (rounded as printed by the fit), bias, provenance."""
        return {**weights.dump(FEATURES, self.weights, self.bias), **self.provenance}

    def save(self, path: Path = SCORER_FILE) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

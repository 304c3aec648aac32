"""Answer a question: dense and keyword retrieval fused, lines scored, duplicates dropped, abstain when weak."""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from . import state
from .embedder import Embedder
from .errors import CitebotError, IndexMissing, UsageError
from .keyword import KeywordIndex
from .linescore import PassageLines, line_coverage, line_logits, prepare
from .reader import LineReader, blend, window
from .settings import Settings
from .store import Store, StoredChunk
from .textproc import normalize_line, terms, words

log = logging.getLogger(__name__)
Mode = Literal["hybrid", "dense", "keyword"]
MAX_QUESTION_CHARS = 1000
NEAR_COPY = 0.8  # word overlap (Jaccard) above which two answering lines say the same thing
PASSAGE_CACHE = 20_000
RETRIES_ON_COMMIT = 3  # chunks whose line analysis is kept in memory
LINE_SEMANTIC_SHARE = 0.3  # line match = share * cosine + (1 - share) * rare-word coverage
ANSWER_LINE_BONUS = 0.2  # a passage holding a confident answering line ranks higher (tuned on SQuAD)


@dataclass(frozen=True)
class Hit:
    """One cited passage: ``line`` is the line that best answers the question."""

    source: str
    line_start: int
    line_end: int
    line: int
    score: float
    text: str
    line_text: str
    lines: list[tuple[int, str]] = field(default_factory=list)
    also_at: list[int] = field(default_factory=list)
    chunk_id: str = ""

    @property
    def citation(self) -> str:
        if self.line_start == self.line_end:
            return f"{self.source}:{self.line_start}"
        return f"{self.source}:L{self.line_start}-L{self.line_end}"

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source, "line_start": self.line_start, "line_end": self.line_end, "line": self.line,
            "score": round(self.score, 4), "text": self.text, "line_text": self.line_text, "also_at": self.also_at,
        }


@dataclass(frozen=True)
class Answer:
    question: str
    hits: list[Hit]
    relevance: float = 0.0  # of the best candidate, answered or not

    @property
    def abstained(self) -> bool:
        return not self.hits

    def to_json(self) -> dict[str, object]:
        return {"question": self.question, "hits": [h.to_json() for h in self.hits]}


def clean_question(question: str, limit: int = MAX_QUESTION_CHARS) -> str:
    """Control characters out, white space folded; empty or over-long questions are refused."""
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in question)
    text = " ".join(text.split())
    if not text:
        raise UsageError("the question is empty: ask something about the indexed documents")
    if len(text) > limit:
        raise UsageError(f"the question is too long ({len(text):,} characters; the limit is {limit:,})")
    return text


@dataclass
class _Candidate:
    chunk: StoredChunk
    fused: float = 0.0
    cosine: float | None = None
    match: float = 0.0  # best line's blend of meaning and question-word coverage
    line_index: int = 0
    line_score: float = 0.0  # the answering line's score from the line scorer
    line_logits: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    relevance: float = 0.0
    final: float = 0.0


class Searcher:
    """Reads the committed index; notices a new commit by the manifest's mtime and reloads."""

    def __init__(self, settings: Settings, embedder: Embedder, store: Store, reader: LineReader | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.reader = reader
        self._state_dir = settings.resolved_state_dir()
        self._loaded_at = -1.0
        self._valid: frozenset[str] = frozenset()
        self._keyword = KeywordIndex([], None, {})
        self._lock = threading.Lock()
        self._passages: dict[str, PassageLines] = {}

    def _refresh(self) -> tuple[frozenset[str], KeywordIndex]:
        with self._lock:
            stamp = state.mtime(self._state_dir)
            if stamp != self._loaded_at:
                for attempt in range(3):  # a commit may land between reading the manifest and its keyword index
                    manifest = state.load(self._state_dir)
                    if manifest is None:
                        raise IndexMissing(
                            f"nothing is indexed at {self.store.where} yet: run `citebot index DIR` first"
                        )
                    try:
                        keyword = KeywordIndex.load(state.keyword_dir(self._state_dir, manifest.generation))
                        break
                    except FileNotFoundError:
                        if attempt == 2:
                            raise CitebotError(
                                f"the keyword index of generation {manifest.generation} is missing: "
                                "run `citebot index` to rebuild it"
                            ) from None
                        time.sleep(0.05)
                        stamp = state.mtime(self._state_dir)
                assert manifest is not None  # the loop either loaded one or raised
                self._keyword = keyword
                self._valid = frozenset(manifest.chunk_ids())
                self._loaded_at = stamp
            return self._valid, self._keyword

    def _passage(self, chunk: StoredChunk) -> PassageLines:
        """Question-independent line analysis, cached per chunk id (ids change when content does)."""
        passage = self._passages.get(chunk.id)
        if passage is None:
            passage = prepare(chunk.text.split("\n"))
            if len(self._passages) >= PASSAGE_CACHE:
                self._passages.pop(next(iter(self._passages)))
            self._passages[chunk.id] = passage
        return passage

    def search(self, question: str, k: int | None = None, mode: Mode = "hybrid") -> Answer:
        """Answer from one committed generation.

        A re-index deletes the previous generation's chunks right after its commit; a question in
        flight across that moment could lose them, so it is asked again when the manifest moved.
        """
        question = clean_question(question)
        q_vec = self.embedder.embed_queries([question])[0]
        for _ in range(RETRIES_ON_COMMIT):
            stamp = state.mtime(self._state_dir)
            answer = self._search_once(question, q_vec, k or self.settings.top_k, mode)
            if state.mtime(self._state_dir) == stamp:
                break
        return answer

    def _search_once(self, question: str, q_vec: np.ndarray, k: int, mode: Mode) -> Answer:
        s = self.settings
        valid, keyword = self._refresh()
        q_terms = terms(question)
        pool: dict[str, _Candidate] = {}
        n = s.candidates
        if mode != "keyword":
            dense = [(c, cos) for c, cos in self.store.query(q_vec, n, len(valid)) if c.id in valid][:n]
            for rank, (chunk, cos) in enumerate(dense):
                pool[chunk.id] = _Candidate(chunk, s.dense_weight / (s.rrf_k + rank + 1), cos)
        if mode != "dense":
            ranked = [cid for cid, _ in keyword.search(q_terms, n) if cid in valid]
            missing = [cid for cid in ranked if cid not in pool]
            fetched = {c.id: c for c in self.store.get(missing, embeddings=True)}
            for rank, cid in enumerate(ranked):
                if cid in pool:
                    pool[cid].fused += s.keyword_weight / (s.rrf_k + rank + 1)
                elif cid in fetched:
                    chunk = fetched[cid]
                    cosine = float(chunk.embedding @ q_vec) if chunk.embedding is not None else None
                    pool[cid] = _Candidate(chunk, s.keyword_weight / (s.rrf_k + rank + 1), cosine)
        if not pool:
            return Answer(question, [], 0.0)
        ranked_pool = sorted(pool.values(), key=lambda c: -c.fused)[: max(3 * k, 15)]
        top_fused = ranked_pool[0].fused
        q_idf = {t: keyword.term_idf(t) for t in set(q_terms)}
        for cand in ranked_pool:
            _score_lines(cand, self._passage(cand.chunk), question, q_vec, q_idf)
            cosine = cand.cosine if cand.cosine is not None else cand.match
            cand.relevance = 0.5 * cosine + 0.5 * cand.match
            passage = cand.relevance + ANSWER_LINE_BONUS * cand.line_score
            cand.final = (1 - s.line_weight) * cand.fused / top_fused + s.line_weight * passage
        ranked_pool.sort(key=lambda c: -c.final)
        best = ranked_pool[0].relevance
        if best < s.min_relevance:
            return Answer(question, [], best)
        if self.reader is not None:
            try:
                _reread(self.reader, ranked_pool[0], question)
            except Exception as exc:  # noqa: BLE001 - a broken reader costs line precision, never the answer
                log.warning("line reader off, the line scorer's picks stand: %s",
                            str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                self.reader = None
        return Answer(question, _diverse(ranked_pool, k, s.min_relevance), best)


def _score_lines(
    cand: _Candidate, passage: PassageLines, question: str, q_vec: np.ndarray, q_idf: dict[str, float]
) -> None:
    """How well the passage's best line matches (for ranking), and which line answers (for citing)."""
    lexical = line_coverage(passage, q_idf)
    vectors = cand.chunk.lines_matrix()
    semantic = vectors @ q_vec if vectors is not None and len(vectors) == len(lexical) else lexical
    cand.match = float(np.max(LINE_SEMANTIC_SHARE * semantic + (1 - LINE_SEMANTIC_SHARE) * lexical))
    cand.line_logits = line_logits(question, q_idf, q_vec, passage, vectors, lexical)
    cand.line_index = int(np.argmax(cand.line_logits))
    cand.line_score = float(1.0 / (1.0 + np.exp(-cand.line_logits[cand.line_index])))


def _reread(reader: LineReader, cand: _Candidate, question: str) -> None:
    """Let the reader move the top hit's answering line within a few lines of the scorer's pick."""
    config = reader.load()
    lines = cand.chunk.text.split("\n")
    lo, hi = window(cand.line_index, [len(line) for line in lines], config.window)
    if hi - lo < 2:
        return
    logprob = reader.read(question, lines[lo:hi])
    cand.line_index = lo + blend(logprob, cand.line_logits[lo:hi], config.blend)


def _diverse(ranked: list[_Candidate], k: int, floor: float) -> list[Hit]:
    """Top ``k`` hits without repeats: the same passage (duplicated files) or the same answering line is
    dropped, and a near copy of an answer already shown (another outlet's copy of a wire story) waits
    behind every distinct relevant one, but ahead of passages too weak to answer on their own."""
    distinct: list[Hit] = []
    echoes: list[Hit] = []
    weak: list[Hit] = []
    seen: set[str] = set()
    shown: list[set[str]] = []
    for cand in ranked:
        line_no, line_text, also = _line_of(cand)
        keys = {cand.chunk.hash, normalize_line(line_text)}
        if keys & seen:
            continue
        seen |= keys
        hit = _hit(cand, line_no, line_text, also)
        line_words = set(words(line_text))
        if any(len(line_words & w) >= NEAR_COPY * max(len(line_words | w), 1) for w in shown):
            echoes.append(hit)
        elif cand.relevance < floor:
            weak.append(hit)
        else:
            distinct.append(hit)
            shown.append(line_words)
        if len(distinct) == k:
            break
    return (distinct + echoes + weak)[:k]


def _line_of(cand: _Candidate) -> tuple[int, str, list[int]]:
    lines = cand.chunk.text.split("\n")
    number, also = cand.chunk.units[cand.line_index]
    return number, lines[cand.line_index], list(also)


def _hit(cand: _Candidate, line_no: int, line_text: str, also: list[int]) -> Hit:
    c = cand.chunk
    numbered = [(u[0], text) for u, text in zip(c.units, c.text.split("\n"))]
    return Hit(c.source, c.line_start, c.line_end, line_no, cand.final, c.text, line_text, numbered, also, c.id)


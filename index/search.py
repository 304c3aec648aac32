"""Answer a question: dense and keyword retrieval fused, lines scored, duplicates dropped, abstain when weak."""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import zip_longest
from typing import Literal

import numpy as np
from cachetools import LRUCache

from . import chatter, check, keyword_cache, ledger, state
from .embedder import Embedder
from .errors import IndexDamaged, IndexMissing, UsageError, one_line
from .keyword import KeywordIndex
from .linepick import LinePick, LinePicker
from .linescore import PassageLines, Query, prepare
from .prose import asks_about_releases, is_release_title, release_note_share
from .reader import LineReader
from .rerank import FEATURES, Reranker
from .settings import Settings
from .store import Store, StoredChunk
from .structure import PATH_SEPARATOR
from .textproc import STOPWORDS, WORD, normalize_line, stem_words, terms, words

log = logging.getLogger(__name__)
Mode = Literal["hybrid", "dense", "keyword"]
Span = tuple[str, int, int]  # a hit's file, first and last line
MAX_QUESTION_CHARS = 1000
NEAR_COPY = 0.8  # word overlap (Jaccard) above which two answering lines say the same thing
PASSAGE_CACHE = 20_000  # chunks whose line analysis is kept in memory
# Times a question is asked when commits keep landing while it is answered: each commit can delete the chunks
# of the generation before it. Chosen by hand: three covers commits landing back to back.
RETRIES_ON_COMMIT = 3
# Times it is asked when a try found chunks of its generation deleted before it could read them (an answer
# missing them would cite none of the file re-indexed): tests/index/test_reliability.py re-indexes a tiny
# folder back to back with the hash embedder, commits tens of milliseconds apart: with three tries in all, an
# answer there lost them in 1 of 24 runs with both cores busy. A whole answer is kept over one that lost some.
RETRIES_ON_LOSS = 10
# Tries to load the keyword index of the latest commit: a reader that read a manifest just before two more
# commits may find its keyword index deleted, and reads the newer manifest. Chosen by hand, like the pause.
KEYWORD_LOAD_ATTEMPTS = 3
KEYWORD_RETRY_PAUSE = 0.05  # seconds: lets a burst of back-to-back commits settle; not measured
# Candidates scored and reranked: three per hit asked for, and at least 30, half from each ranking (``_to_score``).
# Three per hit was set by hand (1afb45f). The floor is what the reranker is fitted on (scripts/fit_reranker.py
# asks for 10 hits, so 30 candidates): with a floor of 15 the default 5 hits were ranked from fewer candidates than
# the fit saw. Raising it to 30 lifted hit@5 at k=5 from 0.719 to 0.750 (pydantic) and 0.771 to 0.792
# (discord.py), Textual unchanged, for about 11 % more warm-ask time (line scoring of 15 more passages; one run
# alternating both, issue 10), which fetching only the scored candidates, in one call, won back (``_scored``).
# Taking them from both rankings in turn, instead of the first by fused score, put the answering passage among
# the 30 scored for 29 / 43 / 48 of the 32 / 48 / 48 answerable docs dev questions (pydantic / discord.py /
# Textual), against 28 / 42 / 46.
RERANK_PER_HIT = 3
RERANK_MIN = 30
# A hit with less than this share of the reranker's softmax waits behind every stronger one, near copies
# included. Set by hand: 1 in 20, below the second and third hits members read as answers in the dev sets.
WEAK_PASSAGE = 0.05
# A passage this share of whose lines are release-note entries (``prose.release_note_share``: entries naming an
# issue, a person, a version or a date, version headers) waits behind every distinct explanation, ahead of near
# copies and weak ones: a changelog entry matches a question by the words of a fix ("Add a warning when document
# is included in multiple toctrees") without saying how to do anything. The reranker's ``prose`` feature was
# meant to hold changelogs back, but the fit gave it a weight of -0.34 (the dev sets' answers are often lists);
# on Sphinx 9's docs, whose 48 release-note files make a third of the index, a changelog entry was the first
# citation of 4 of 20 questions asked of them (issue 10). Half is set by hand: 494 of Sphinx's 697 changelog chunks
# and 475 of pytest's 718 reach it, 20 of the 2,015 other chunks of the three docs dev sets do.
RELEASE_NOTES = 0.5
# A passage of a page about one release (``prose.is_release_title``: "What's new in Celery 4.0", "Django 1.5
# release notes") waits with them: its prose reads as an explanation, and on Celery's docs (37 release pages
# in history/) an old release's announcement was the first citation of 3 of 16 questions (issue 10). A
# question about versions or releases (``prose.asks_about_releases``) lets both kinds answer first.
# A hit that continues one already shown (same file and section, overlapping it or with at most JOIN_GAP lines
# between them: the blank line where the chunker cut one section between paragraphs) joins it as one citation,
# the stronger's line still pointed at, so that one section split in two does not take two of the five places.
# Only the first JOIN_DEPTH candidates join (those ranked past the k-th hit too), and never past JOIN_MAX_LINES
# lines. A wider gap could skip a line that only a third, unscored chunk holds (the tail a chunk split inside a
# paragraph leaves), and the citation would then show its span with a line missing. Chosen from a simulation
# over the docs dev sets and 300 SQuAD questions (gap 1 or 3, depth 5, 10 or 20, cap 40 or 60 lines; issue 10):
# depth 20 gained one more pydantic question but made SQuAD's median cited span 18 lines instead of 13, and a
# 40-line cap lost the pydantic gain. `make bench` (docs/benchmarks.md, 08:17 run against 02:39, with the
# 30-candidate floor above): hit@1 0.562 -> 0.625 (pydantic), 0.833 -> 0.854 (Textual), 0.823 -> 0.856 (SQuAD),
# discord.py unchanged, precise@1 unchanged (the pointed line is the same). Its lines@1 column shows the cost:
# the top hit's median span is 28 / 19 / 24 lines on pydantic / discord.py / Textual (plain BM25's splits: 24 /
# 25 / 27) and 19 on SQuAD (its splits: 9), where an article is one section.
JOIN_GAP = 1
JOIN_DEPTH = 10
JOIN_MAX_LINES = 60
# A code block too long for the window is split between chunks, and a cited piece of one showed half a block (the
# JSON a schema call prints without the call). Such a hit is completed from the chunks beside it in its file
# (``complete_blocks``), as long as the citation stays within COMPLETE_MAX_LINES lines; the answering line and the
# score stay the piece's. Set by hand from the pydantic dev questions' hits (k=10): 25 cited pieces cut a block,
# whose blocks were 3 to 113 lines long (median 35); with the prose the piece holds, 100 lines complete all but
# the longest few. A block of 100 lines is split into at most COMPLETE_NEIGHBOURS more chunks on either side.
COMPLETE_MAX_LINES = 100
COMPLETE_NEIGHBOURS = 4
# A word the model's WordPiece vocabulary splits into this many pieces or more is not common English: a name
# (Avro, protobuf, MongoDB; "quietly" or "refuse" are one piece). Two is the smallest split there is.
RARE_NAME_PIECES = 2
# Endings that make a common word's inflection or derivation. A split word that is one of them on a one-piece
# word of at least MIN_STEM_CHARS letters is a common word ("fetches", "freezes"), not a name. The list is
# English morphology, not tuned; with it, the held-out abstention of the docs dev sets rose (pydantic 0.25 to
# 0.375, discord.py 0.25 to 0.333) and no answerable question more was dropped.
WORD_ENDINGS = ("s", "es", "ed", "d", "ing", "er", "ers", "ly", "ling", "ness", "ment", "able", "ful", "less",
                "ion", "ions", "ist", "ity", "ize", "ise", "ish", "al", "y", "est")
# Prefixes that make a common word of a common word ("subfolder", "misbehave", "unpinned"), by the same rule.
WORD_PREFIXES = ("un", "re", "sub", "mis", "pre", "non", "dis", "over", "under", "out", "super")
MIN_STEM_CHARS = 4
# Shorter words start too many longer ones to tell anything ("qt", "xp").
MIN_EXTENDED_CHARS = 3
# Shorter names lie one letter from common words (Cython: python), so only longer words count as misspelt.
MIN_TYPO_CHARS = 7
# A word the docs use with at most this many letters more is the same name written short: "postgres" where
# they say "PostgreSQL". Only for words of MIN_TYPO_CHARS letters or more: a shorter one is as often another
# word ("quic" is not "quick", "diff" not "differ").
NAME_TAIL_CHARS = 2
# Words members write that WordPiece splits but that name nothing the docs could lack: chat slang ("lol we
# deployed...") and programmers' shorthand for words the docs spell out ("deps", "lib", "repo"). English usage,
# not fitted; found as the unknown names of answered questions on held-out sets (bench/heldout: FastAPI Users,
# Celery), and none is the only unknown name of an unanswerable question in any set.
NOT_NAMES = frozenset({
    "lol", "lmao", "haha", "tbh", "idk", "imo", "imho", "btw", "iirc", "afaik", "ngl", "pls", "plz", "thx",
    "lib", "libs", "dep", "deps", "repo", "repos", "env", "config", "configs", "auth", "admin", "admins",
    "arg", "args", "param", "params", "func", "funcs", "dir", "dirs", "msg", "msgs", "pkg", "pkgs", "docs",
})
SENTENCE_ENDS = ".!?:;\"'(`"


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
    # The chunks the passage is made of: one, or the pieces of a section an answer joined into one citation.
    chunk_ids: tuple[str, ...] = ()
    # Code blocks (first line, last line) the passage shows only part of: too long to cite whole
    # (COMPLETE_MAX_LINES). Shown as an excerpt that says it goes on (``continues_above``, ``continues_below``).
    partial_blocks: tuple[tuple[int, int], ...] = ()

    @property
    def citation(self) -> str:
        if self.line_start == self.line_end:
            return f"{self.source}:{self.line_start}"
        return f"{self.source}:L{self.line_start}-L{self.line_end}"

    @property
    def continues_above(self) -> bool:
        """Whether a code block the passage shows begins above its first line (the block is too long to show)."""
        return any(first < self.line_start for first, _ in self.partial_blocks)

    @property
    def continues_below(self) -> bool:
        """Whether a code block the passage shows goes on below its last line."""
        return any(last > self.line_end for _, last in self.partial_blocks)

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source, "line_start": self.line_start, "line_end": self.line_end, "line": self.line,
            "score": round(self.score, 4), "text": self.text, "line_text": self.line_text, "also_at": self.also_at,
            "partial_blocks": [list(b) for b in self.partial_blocks],
        }


# What a tentative answer (``Answer.tentative``) says before its passages, on the command line and in Discord.
TENTATIVE_NOTE = "The documents may not answer this directly; these are the closest passages."


@dataclass(frozen=True)
class Answer:
    question: str
    hits: list[Hit]
    relevance: float = 0.0  # of the best candidate, answered or not
    # Answered, but below the sure answerability (``Settings.sure_relevance``): shown as the closest passages,
    # with a caution that they may not answer. Near-topic questions the documents do not answer land here more
    # often than abstention can catch them without dropping answerable ones.
    tentative: bool = False

    @property
    def abstained(self) -> bool:
        return not self.hits

    def to_json(self) -> dict[str, object]:
        return {"question": self.question, "hits": [h.to_json() for h in self.hits],
                "relevance": round(self.relevance, 4), "tentative": self.tentative}


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
class _Ranked:
    """Where one chunk stands in the two rankings, before anything of it but its id is fetched."""

    cid: str
    fused: float = 0.0
    cosine: float | None = None  # from dense search; None when only keyword search returned it
    dense_rank: int | None = None  # 0-based rank in the dense ranking, None when not returned by it
    keyword_rank: int | None = None
    keyword_score: float = 0.0  # BM25


@dataclass
class _Candidate:
    chunk: StoredChunk
    fused: float = 0.0
    cosine: float | None = None
    dense_rank: int | None = None  # 0-based rank in the dense ranking, None when not returned by it
    keyword_rank: int | None = None
    keyword_score: float = 0.0  # BM25
    passage: PassageLines | None = None  # the chunk's lines, parsed (cached per chunk id); set when scored
    pick: LinePick | None = None  # how its lines answer the question; set when scored
    features: np.ndarray | None = None  # its row of rerank.FEATURES; set when scored
    relevance: float = 0.0  # its share of the reranker's softmax over the scored candidates: the hit's score
    final: float = 0.0  # the reranker's log-odds: the order of the hits

    @classmethod
    def of(cls, ranked: _Ranked, chunk: StoredChunk, q_vec: np.ndarray) -> _Candidate:
        """A chosen candidate with its chunk; a keyword-only one's cosine from its stored vector."""
        cosine = ranked.cosine
        if cosine is None and chunk.embedding is not None:
            cosine = float(chunk.embedding @ q_vec)
        return cls(chunk, ranked.fused, cosine, ranked.dense_rank, ranked.keyword_rank, ranked.keyword_score)


class Searcher:
    """Reads the committed index; notices a new commit by the manifest's mtime and reloads."""

    def __init__(
        self, settings: Settings, embedder: Embedder, store: Store, reader: LineReader | None = None,
        commits: state.CommitWatch | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.picker = LinePicker(reader=reader)
        self.reranker = Reranker.load()
        # Shared with the Engine, which hangs its checks of each new commit on it.
        self._commits = commits or state.CommitWatch(ledger.open_ledger(settings))
        self._loaded: state.Commit | None = None
        self._valid: frozenset[str] = frozenset()
        self._keyword = KeywordIndex([], None, {})
        self._lock = threading.Lock()
        # Server mode: the keyword index of a new commit is built in the background (keyword_cache.py) while
        # questions are answered from the commit loaded before; what the builder made waits here.
        self._building: state.Commit | None = None
        self._built: tuple[state.Commit, KeywordIndex] | None = None
        self._build_lock = threading.Lock()
        # Shared by the bot's worker threads: cachetools' LRU is not thread-safe, so every access holds the lock.
        self._passages: LRUCache[str, PassageLines] = LRUCache(maxsize=PASSAGE_CACHE)
        self._passages_lock = threading.Lock()

    @property
    def reader(self) -> LineReader | None:
        """The line picker's reader; None when off (never configured, or switched off after failing)."""
        return self.picker.reader

    def _refresh(self) -> tuple[frozenset[str], KeywordIndex]:
        """The committed chunk ids and the keyword index of one generation, the latest this process can answer
        from: in server mode, the one loaded before until the keyword index of a newer commit is built."""
        with self._lock:
            commit = self._commits.latest()
            if commit is not self._loaded:
                if commit.manifest is None:
                    raise IndexMissing(f"nothing is indexed at {self.store.where} yet: run `citebot index DIR` first")
                if self._commits.ledger.keyword_cache:
                    self._take_built(commit)
                else:
                    self._take(*self._load_keyword(commit))
            return self._valid, self._keyword

    def _take(self, commit: state.Commit, keyword: KeywordIndex) -> None:
        assert commit.manifest is not None
        self._keyword = keyword
        self._valid = frozenset(commit.manifest.chunk_ids())
        self._loaded = commit

    def _load_keyword(self, commit: state.Commit) -> tuple[state.Commit, KeywordIndex]:
        """Embedded mode: the keyword index the indexer wrote for ``commit``, loaded and checked whole
        (``IndexDamaged`` says what is wrong and what repairs it); the newest commit's, with that commit, when
        a commit landed between the manifest and its keywords and deleted them."""
        for attempt in range(KEYWORD_LOAD_ATTEMPTS):
            manifest = commit.manifest
            if manifest is None:
                raise IndexMissing(f"nothing is indexed at {self.store.where} yet: run `citebot index DIR` first")
            try:
                keyword = check.load_keyword(self._commits.state_dir, manifest)
                break
            except IndexDamaged:
                if attempt == KEYWORD_LOAD_ATTEMPTS - 1:
                    raise
                time.sleep(KEYWORD_RETRY_PAUSE)
                commit = self._commits.latest()
        return commit, keyword

    def _take_built(self, commit: state.Commit) -> None:
        """Server mode: answer from the newest generation whose keyword index is ready; build ``commit``'s in
        the background, or here when nothing is loaded yet (a process's first question waits for it) or the
        local cache holds it already (the commit of this process, or of a writer sharing the folder)."""
        with self._build_lock:
            built, self._built = self._built, None
        if built is not None and self._generation(built[0]) > self._generation(self._loaded):
            self._take(*built)
        if self._loaded is commit:
            return
        assert commit.manifest is not None
        cached = state.keyword_dir(self._commits.state_dir, commit.manifest.generation).is_dir()
        if self._loaded is None or cached:  # nothing to answer from yet, or only a load (this process's commit)
            self._take(commit, keyword_cache.for_commit(self._commits.state_dir, commit.manifest, self.store))
            return
        with self._build_lock:
            if self._building is not None:
                return  # one build at a time; the next question after it starts the newest commit's
            self._building = commit
        threading.Thread(target=self._build, args=(commit,), name="citebot-keyword", daemon=True).start()

    def _build(self, commit: state.Commit) -> None:
        assert commit.manifest is not None
        try:
            keyword = keyword_cache.for_commit(self._commits.state_dir, commit.manifest, self.store)
        except Exception as exc:  # noqa: BLE001 - the previous generation keeps answering; the next question retries
            log.warning("could not build the keyword index of generation %d: %s", commit.manifest.generation,
                        one_line(exc))
            with self._build_lock:
                self._building = None
            return
        with self._build_lock:
            self._built = (commit, keyword)
            self._building = None

    @staticmethod
    def _generation(commit: state.Commit | None) -> int:
        return commit.manifest.generation if commit is not None and commit.manifest is not None else 0

    def _passage(self, chunk: StoredChunk) -> PassageLines:
        """Question-independent line analysis, cached per chunk id (ids change when content does)."""
        with self._passages_lock:
            passage = self._passages.get(chunk.id)
        if passage is None:
            # Parsed outside the lock (milliseconds): two threads may both parse one chunk, to the same result.
            passage = prepare(chunk.text.split("\n"))
            with self._passages_lock:
                self._passages[chunk.id] = passage
        return passage

    def search(self, question: str, k: int | None = None, mode: Mode = "hybrid") -> Answer:
        """Answer from one committed generation.

        A re-index deletes the previous generation's chunks right after its commit; a question in
        flight across that moment could lose them, so it is asked again when the manifest moved (up to
        ``RETRIES_ON_COMMIT`` times), and again while its tries find chunks deleted (``RETRIES_ON_LOSS``).
        The search reads the question without its chatty wrapper (``chatter.core``); the answer keeps it whole.
        """
        question = clean_question(question)
        wanted = chatter.core(question)
        q_vec = self.embedder.embed_queries([wanted])[0]
        answer: Answer | None = None
        whole = False
        for attempt in range(RETRIES_ON_LOSS):
            stamp = self._commits.stamp()
            found, lost = self._search_once(wanted, q_vec, k or self.settings.top_k, mode)
            if not lost or not whole:  # the newest whole answer; one that lost chunks only while none is whole
                answer, whole = found, not lost
            if not lost and (self._commits.stamp() == stamp or attempt + 1 >= RETRIES_ON_COMMIT):
                break
        assert answer is not None  # RETRIES_ON_LOSS >= 1
        return answer if wanted == question else replace(answer, question=question)

    def _search_once(self, question: str, q_vec: np.ndarray, k: int, mode: Mode) -> tuple[Answer, bool]:
        """One try at an answer, and whether chunks of its generation were deleted before it read them."""
        ranked, query, answerable, lost = self._scored(question, q_vec, k, mode)
        if not ranked:
            return Answer(question, [], 0.0), lost
        floor = self.min_answer
        if answerable < floor:
            return Answer(question, [], answerable), lost
        top = ranked[0]
        assert top.passage is not None and top.pick is not None  # every candidate of the pool was scored
        top.pick = self.picker.reread(top.passage, top.pick, query)
        committed = self._loaded.manifest if self._loaded is not None else None
        shown = _diverse(ranked, k, notes_wait=not asks_about_releases(question))
        hits = complete_blocks(shown, {c.chunk.id: c.chunk for c in ranked}, committed, self.store.fetch)
        return Answer(question, hits, answerable, tentative=answerable < self.settings.sure_relevance), lost

    @property
    def min_answer(self) -> float:
        """The answerability below which the documents are taken not to answer: the setting, else the fit's."""
        setting = self.settings.min_relevance
        return self.reranker.min_answer if setting is None else setting

    def _scored(
        self, question: str, q_vec: np.ndarray, k: int, mode: Mode
    ) -> tuple[list[_Candidate], Query, float, bool]:
        """The first fused candidates of one committed generation, lines scored, in the reranker's order, the
        probability that the best one answers the question, and whether some were deleted before they were
        fetched (a commit landed: the candidates are those left)."""
        s = self.settings
        valid, keyword = self._refresh()
        pool: dict[str, _Ranked] = {}
        n = s.candidates
        if mode != "keyword":
            committed = self._loaded.manifest if self._loaded is not None else None  # what _refresh loaded
            generation = committed.generation if committed is not None else None
            dense = [(cid, cos) for cid, cos in self.store.nearest(q_vec, n, valid, generation) if cid in valid][:n]
            for rank, (cid, cos) in enumerate(dense):
                pool[cid] = _Ranked(cid, s.dense_weight / (s.rrf_k + rank + 1), cos, dense_rank=rank)
        if mode != "dense":
            ranked = [(cid, score) for cid, score in keyword.search(terms(question), n) if cid in valid]
            for rank, (cid, score) in enumerate(ranked):
                found = pool.setdefault(cid, _Ranked(cid))
                found.fused += s.keyword_weight / (s.rrf_k + rank + 1)
                found.keyword_rank, found.keyword_score = rank, score
        query = Query.of(question, q_vec, keyword.term_idf)
        # Only the candidates scored are fetched, in one call: the rankings need ids alone.
        chosen = _to_score(pool.values(), max(RERANK_PER_HIT * k, RERANK_MIN))
        fetched = {c.id: c for c in self.store.fetch([r.cid for r in chosen], embeddings=True)}
        scored = [_Candidate.of(r, fetched[r.cid], q_vec) for r in chosen if r.cid in fetched]
        for cand in scored:
            cand.passage = self._passage(cand.chunk)
            cand.pick = self.picker.pick(cand.passage, cand.chunk.lines_matrix(), query, cand.chunk.markup)
        rows = features(scored, query, self._unknown(question, keyword, query))
        for cand, row in zip(scored, rows):
            cand.features = row  # kept for ``candidates`` (what the fit learns from), not recomputed there
        logits = self.reranker.order(rows)
        # The candidate model is fitted listwise, so its scores mean something only against each other: a
        # candidate's share of their softmax is its chance of being the answering one among those scored.
        shares = np.exp(logits - logits.max()) if len(logits) else logits
        shares = shares / shares.sum() if len(shares) else shares
        for cand, logit, share in zip(scored, logits, shares):
            cand.final = float(logit)
            cand.relevance = float(share)
        answerable = self.reranker.answerability(rows, logits) if scored else 0.0
        scored.sort(key=lambda c: -c.final)
        return scored, query, answerable, len(scored) < len(chosen)

    def candidates(self, question: str, k: int | None = None) -> tuple[list[StoredChunk], np.ndarray]:
        """The scored candidates of a hybrid search, best first, and their reranker features: what
        ``scripts/fit_reranker.py`` learns from (exactly what answering computes)."""
        question = chatter.core(clean_question(question))
        q_vec = self.embedder.embed_queries([question])[0]
        ranked, _, _, _ = self._scored(question, q_vec, k or self.settings.top_k, "hybrid")
        rows = [c.features for c in ranked if c.features is not None]
        return [c.chunk for c in ranked], np.stack(rows) if rows else np.zeros((0, len(FEATURES)), np.float32)

    def _unknown(self, question: str, keyword: KeywordIndex, query: Query) -> tuple[float, float]:
        """What the question asks about that no passage mentions: the share of its term weight absent from the
        index, and whether one of those words is a rare name (``_is_name``: a library, a file format, a
        service; or a word capitalized inside a sentence, ``capitalized``), the usual mark of a question about
        something the docs lack. Misspellings of indexed words and shortened forms of them are not names."""
        absent = {t for t in query.idf if not keyword.knows(t)}
        share = sum(query.idf[t] for t in absent) / query.total
        if not absent:
            return share, 0.0
        named = [w for w in set(words(question)) if w not in STOPWORDS and w not in NOT_NAMES
                 and (stem := stem_words([w])[0]) in absent and not _written_otherwise(w, stem, keyword)]
        # A capitalized word the docs use only in a longer form is no unknown name: "Mac" where they say "macOS".
        proper = {w for w in capitalized(question)
                  if len(w) < MIN_EXTENDED_CHARS or not keyword.extends(stem_words([w])[0])}
        return share, float(any(w in proper or _is_name(w, self.embedder.count_tokens) for w in named))


def _written_otherwise(word: str, stem: str, keyword: KeywordIndex) -> bool:
    """Whether a question word the index lacks is one the docs write another way, so no name they lack: a long
    word one letter from one they use (a misspelling), the plural of one they use ("JWTs": the stemmer keeps a
    plural "s" after consonants alone), or a long word they write with a short tail ("postgres",
    NAME_TAIL_CHARS)."""
    if len(word) >= MIN_TYPO_CHARS and (keyword.near(stem) or keyword.extends(word, NAME_TAIL_CHARS)):
        return True
    return word.endswith("s") and keyword.knows(stem_words([word[:-1]])[0])


def capitalized(question: str) -> frozenset[str]:
    """Words written with a capital inside a sentence ("Pillow", "XP", "MongoDB"), lower-cased: how a
    member names a product, a library or a service. The first word of each sentence does not count."""
    found = set()
    for match in WORD.finditer(question):  # as written: the case is the point
        before = question[: match.start()].rstrip()
        if before and before[-1] not in SENTENCE_ENDS and any(ch.isupper() for ch in match.group()):
            found.add(match.group().lower())
    return frozenset(found)


def _to_score(pool: Iterable[_Ranked], size: int) -> list[_Ranked]:
    """The candidates worth scoring: the first of each ranking in turn (dense, keyword, dense, ...), so that
    neither retriever crowds out the other, in fused order. Fusion alone would hand the reranker the
    keyword ranking's first 30: with keyword search weighted double, every keyword candidate outranks every
    dense-only one, and the dense ranking's third passage (the answer to a paraphrased question) went unseen."""
    cands = list(pool)
    dense = sorted((c for c in cands if c.dense_rank is not None), key=lambda c: c.dense_rank or 0)
    keyword = sorted((c for c in cands if c.keyword_rank is not None), key=lambda c: c.keyword_rank or 0)
    chosen: dict[int, _Ranked] = {}
    for pair in zip_longest(dense, keyword):
        for c in pair:
            if c is not None and len(chosen) < size:
                chosen.setdefault(id(c), c)
        if len(chosen) >= size:
            break
    return sorted(chosen.values(), key=lambda c: -c.fused)


def _is_name(word: str, count: Callable[[Sequence[str]], list[int]]) -> bool:
    """Whether ``word`` is a rare name: the tokenizer splits it into word pieces, and it is not a common word
    with an English ending or prefix (the tokenizer splits "fetches", "spinner", "quickest" and "subfolder"
    too, as fetch + es, spin-n + er, quick + est, sub + folder), nor a number ("100x50", "24")."""
    if word[:1].isdigit() or count([word])[0] < RARE_NAME_PIECES:
        return False
    bases = [word] + [word[len(p):] for p in WORD_PREFIXES
                      if word.startswith(p) and len(word) - len(p) >= MIN_STEM_CHARS]
    forms = [w for w in bases if w != word]
    for w in bases:
        for e in WORD_ENDINGS:
            stem = w[: -len(e)]
            if w.endswith(e) and len(stem) >= MIN_STEM_CHARS:
                forms.append(stem)
                if stem[-1] == stem[-2] and stem[-1] not in "aeiou":  # a doubled consonant: spinner, levelling
                    forms.append(stem[:-1])
    return not forms or min(count(forms)) > 1


def features(ranked: list[_Candidate], query: Query, unknown: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """One row of ``rerank.FEATURES`` per scored candidate."""
    top_fused = max((c.fused for c in ranked), default=1.0) or 1.0
    top_keyword = max((c.keyword_score for c in ranked), default=0.0) or 1.0
    rows = []
    for c in ranked:
        assert c.pick is not None and c.passage is not None
        body = frozenset().union(*c.passage.line_terms)  # the cached analysis holds each line's terms already
        heading = set(terms(c.chunk.context))
        cover = sum(w for t, w in query.idf.items() if t in body or t in heading) / query.total
        heading_cover = sum(w for t, w in query.idf.items() if t in heading) / query.total
        cosine = c.cosine if c.cosine is not None else c.pick.match
        rows.append([
            c.fused / top_fused,
            0.0 if c.dense_rank is None else 1.0 / (1 + c.dense_rank),
            0.0 if c.keyword_rank is None else 1.0 / (1 + c.keyword_rank),
            c.keyword_score / top_keyword,
            cosine, c.pick.match, c.pick.score, cover, heading_cover, c.chunk.prose, *unknown,
        ])
    return np.asarray(rows, dtype=np.float32).reshape(len(ranked), len(FEATURES))


def _diverse(ranked: list[_Candidate], k: int, floor: float = WEAK_PASSAGE, notes_wait: bool = True) -> list[Hit]:
    """Top ``k`` hits without repeats: the same passage (duplicated files) is dropped, a passage continuing a
    hit's section joins that hit (``joins``), and a near copy of an answer already shown (another outlet's copy
    of a wire story, the same answering line on another page) waits behind every distinct relevant one, but
    ahead of passages too weak to answer on their own (a weak one waits with those, copy or not). Release notes
    (``RELEASE_NOTES``) wait behind the distinct answers too, ahead of the copies, unless ``notes_wait`` is
    False (a question about releases)."""
    distinct: list[Hit] = []
    notes: list[Hit] = []
    echoes: list[Hit] = []
    weak: list[Hit] = []
    sections: dict[Span, tuple[str, str]] = {}  # each kept hit's heading paths (``_join_into``), by its span
    passages: set[str] = set()
    lines: set[str] = set()
    shown: list[set[str]] = []
    for rank, cand in enumerate(ranked):
        full = len(distinct) >= k  # past k, a candidate of the first JOIN_DEPTH may still join a hit shown
        if full and rank >= JOIN_DEPTH:
            break
        if cand.chunk.hash in passages:
            continue
        passages.add(cand.chunk.hash)
        line_no, line_text, also = _line_of(cand)
        # The same answering line in another passage is a copy of an answer, not always of the passage:
        # documentation repeats a code line from page to page (`with pytest.raises(ZeroDivisionError):` in
        # the guide and in a deprecation note), and the second page may be the one that explains it.
        # A release note's line is no answer shown: the page that explains it is no copy of the note (Celery's
        # "app.config_from_object(...)" in What's new in 4.0, then in the configuration guide).
        line_key = normalize_line(line_text)
        repeated = line_key in lines
        # Past k no hit is listed, so whether a candidate is a note matters only to those that are.
        note = not full and notes_wait and cand.relevance >= floor and _release_notes(cand)
        if not note:
            lines.add(line_key)
        hit = _hit(cand, line_no, line_text, also)
        if rank < JOIN_DEPTH and _join_into(hit, cand.chunk.context, (distinct, notes, echoes, weak), sections) or full:
            continue
        line_words = set(words(line_text))
        if cand.relevance < floor:
            weak.append(hit)
        elif note:
            notes.append(hit)
        elif repeated or any(len(line_words & w) >= NEAR_COPY * max(len(line_words | w), 1) for w in shown):
            echoes.append(hit)
        else:
            distinct.append(hit)
            shown.append(line_words)
        sections[_span(hit)] = (cand.chunk.context, cand.chunk.context)
    return (distinct + notes + echoes + weak)[:k]


def _release_notes(cand: _Candidate) -> bool:
    """Whether a scored candidate reads as release notes (``RELEASE_NOTES``)."""
    assert cand.passage is not None  # every candidate of the pool was scored
    if is_release_title(cand.chunk.context.split(PATH_SEPARATOR, 1)[0]):
        return True
    numbers = [number for number, _ in cand.chunk.units]
    code = [bool(c) for c in cand.passage.code]
    return release_note_share(cand.passage.lines, numbers, set(cand.chunk.markup), code) >= RELEASE_NOTES


def _join_into(hit: Hit, section: str, lists: Sequence[list[Hit]], sections: dict[Span, tuple[str, str]]) -> bool:
    """Fold ``hit`` (whose heading path is ``section``) into the first kept hit it continues, in place; whether
    it found one. ``sections`` holds each kept hit's heading paths where it starts and where its last piece
    starts: a piece below must go on with the latter, a piece above must lead into the former."""
    for kept in lists:
        for i, other in enumerate(kept):
            top, bottom = sections.get(_span(other), (section, section))
            below = hit.line_start >= other.line_start
            if (_within(section, bottom) if below else _within(top, section)) and joins(other, hit):
                kept[i] = joined(other, hit)
                sections[_span(kept[i])] = (top, section) if below else (section, bottom)
                return True
    return False


def _within(below: str, above: str) -> bool:
    """Whether a chunk whose heading path is ``below`` goes on with the section of the chunk above it, whose
    path is ``above`` (the path where a chunk starts): the same section, or one under it. A chunk that begins
    before a subheading carries the outer path, and the next chunk the subsection's; a sibling section
    ("Guide > Cranes" after "Guide > Tugboats") is another topic and stays a citation of its own."""
    return below == above or not above or below.startswith(above + PATH_SEPARATOR)


def _span(hit: Hit) -> Span:
    return hit.source, hit.line_start, hit.line_end


def joins(first: Hit, other: Hit) -> bool:
    """Whether ``other`` continues ``first`` (either side): same file, overlapping or at most ``JOIN_GAP`` lines
    apart, and together at most ``JOIN_MAX_LINES`` long. The caller checks that both are of one section."""
    if first.source != other.source:
        return False
    gap = max(other.line_start - first.line_end, first.line_start - other.line_end) - 1
    span = max(first.line_end, other.line_end) - min(first.line_start, other.line_start) + 1
    return gap <= JOIN_GAP and span <= JOIN_MAX_LINES


def joined(first: Hit, other: Hit) -> Hit:
    """One citation spanning both passages: ``first``'s answering line, score and repeats; the lines of both, in
    order, each once (chunks split inside a paragraph share a line)."""
    lines = dict(first.lines)
    for number, text in other.lines:
        lines.setdefault(number, text)
    numbered = sorted(lines.items())
    return replace(first, line_start=min(first.line_start, other.line_start),
                   line_end=max(first.line_end, other.line_end), text="\n".join(t for _, t in numbered),
                   lines=numbered, chunk_ids=tuple(dict.fromkeys(first.chunk_ids + other.chunk_ids)))


def complete_blocks(hits: list[Hit], chunks: Mapping[str, StoredChunk], manifest: state.Manifest | None,
                    fetch: Callable[[list[str]], list[StoredChunk]]) -> list[Hit]:
    """``hits`` with each code block that a hit's chunks (``chunks[id]`` for ``Hit.chunk_ids``) hold only part
    of completed from the chunks beside them in ``manifest``, where the citation stays within
    ``COMPLETE_MAX_LINES`` (a longer block stays an excerpt, in ``Hit.partial_blocks``); a later hit that a
    completed one now covers is dropped. One ``fetch`` in all.
    Showing a cited passage again (``Engine.passage``) completes it the same way. A joined citation is
    completed from every piece: the block its second piece cuts is as much a half block as its first's."""
    wanted: dict[int, tuple[list[tuple[int, int]], list[str]]] = {}
    done = list(hits)
    for i, hit in enumerate(hits):
        entry = manifest.files.get(hit.source) if manifest is not None else None
        pieces = [chunks[cid] for cid in hit.chunk_ids if cid in chunks]
        if entry is None or not any(c.cut_blocks for c in pieces):
            continue
        lo, hi, blocks, too_long, near = hit.line_start, hit.line_end, [], [], []
        # In file order: the blocks above the passage first, then those below.
        for first, last in sorted({b for c in pieces if c.id in entry.chunks for b in c.cut_blocks}):
            if max(hi, last) - min(lo, first) + 1 <= COMPLETE_MAX_LINES:
                lo, hi = min(lo, first), max(hi, last)
                blocks.append((first, last))
            else:
                too_long.append((first, last))
        done[i] = replace(hit, partial_blocks=tuple(too_long))
        for c in pieces:
            if c.cut_blocks and c.id in entry.chunks:
                at = entry.chunks.index(c.id)
                near += entry.chunks[max(0, at - COMPLETE_NEIGHBOURS): at + 1 + COMPLETE_NEIGHBOURS]
        if blocks:
            wanted[i] = (blocks, list(dict.fromkeys(near)))
    if not wanted:
        return done
    fetched = {c.id: c for c in fetch(sorted({cid for _, ids in wanted.values() for cid in ids}))}
    for i, (blocks, ids) in wanted.items():
        lines = [(n, text) for c in (fetched[cid] for cid in ids if cid in fetched)
                 for n, text in shown_lines(c, c.text.split("\n"))
                 if any(first <= n <= last for first, last in blocks)]
        if lines:
            done[i] = joined(done[i], replace(done[i], line_start=min(n for n, _ in lines),
                                              line_end=max(n for n, _ in lines), lines=lines))
    kept: list[Hit] = []
    for hit in done:
        if not any(k.source == hit.source and k.line_start <= hit.line_start and hit.line_end <= k.line_end
                   for k in kept):
            kept.append(hit)
    return kept


def _line_of(cand: _Candidate) -> tuple[int, str, list[int]]:
    """The answering line's number, text and the lines repeating it."""
    assert cand.passage is not None and cand.pick is not None  # only scored candidates become hits
    number, also = cand.chunk.units[cand.pick.index]
    return number, cand.passage.lines[cand.pick.index], list(also)


def _hit(cand: _Candidate, line_no: int, line_text: str, also: list[int]) -> Hit:
    c = cand.chunk
    assert cand.passage is not None
    numbered, text = shown_passage(c, cand.passage.lines)
    return Hit(c.source, c.line_start, c.line_end, line_no, cand.relevance, text, line_text, numbered, also, (c.id,))


def shown_lines(chunk: StoredChunk, texts: Sequence[str]) -> list[tuple[int, str]]:
    """What a passage shows, numbered, in order: its units (``texts``, one each) and the repeated lines of its
    code blocks (``StoredChunk.repeats``), which were searched as their first copy."""
    numbered = [(u[0], text) for u, text in zip(chunk.units, texts, strict=False)]
    return sorted([*numbered, *chunk.repeats], key=lambda line: line[0]) if chunk.repeats else numbered


def shown_passage(chunk: StoredChunk, texts: Sequence[str]) -> tuple[list[tuple[int, str]], str]:
    """``shown_lines`` and the passage's text as shown (``Hit.text``): the chunk's own text unless it shows
    repeated lines too."""
    numbered = shown_lines(chunk, texts)
    return numbered, "\n".join(t for _, t in numbered) if chunk.repeats else chunk.text


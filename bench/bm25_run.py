"""Plain BM25 over LangChain-style 1000/200 character splits: the keyword baseline of issue 10.

The same splits LangChain's default pipeline embeds (``langchain_run.split``, mapped back to line spans),
tokenized the way ``bm25s`` does out of the box (lower case, words of two or more characters, English stop
words, no stemming) and ranked by ``bm25s.BM25`` with its default parameters. No model, no fusion, no line
scoring: it names no answering line, so precise@1 only counts a split of at most two lines (as for
LangChain), and it abstains only when no split shares a word with the question.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import bm25s
import numpy as np

from .data import Dataset
from .langchain_run import CHUNK_OVERLAP, CHUNK_SIZE, add_line_spans, split
from .measure import Latency, RssSampler, Stopwatch, best_of, say, timed_questions
from .results import SystemResult
from .scoring import Hits, Timings, evaluate, per_question

STOPWORDS = "en"  # bm25s's own English list, what its README's quick start uses
KEY = "plain-bm25"

logging.getLogger("bm25s").setLevel(logging.WARNING)


def tokenize(texts: list[str]) -> list[list[str]]:
    tokens: list[list[str]] = bm25s.tokenize(texts, stopwords=STOPWORDS, return_ids=False, show_progress=False)
    return tokens


@dataclass
class PlainBM25:
    """BM25 over text splits, each with its source and line span."""

    rows: list[dict[str, object]]  # source, line_start, line_end per split
    retriever: bm25s.BM25

    @classmethod
    def build(cls, data: Dataset) -> PlainBM25:
        """LangChain's default splits of the corpus, each mapped back to its line span, indexed."""
        splits, texts = split(data)
        add_line_spans(splits, texts)
        rows = [{"source": s.metadata["source"], "line_start": s.metadata["line_start"],
                 "line_end": s.metadata["line_end"]} for s in splits]
        return cls.of(rows, [s.page_content for s in splits])

    @classmethod
    def of(cls, rows: list[dict[str, object]], texts: list[str]) -> PlainBM25:
        """Index ready-made splits: ``rows[i]`` (source and line span) describes ``texts[i]``."""
        retriever = bm25s.BM25()
        retriever.index([toks or [""] for toks in tokenize(texts)] or [[""]], show_progress=False)  # never empty
        return cls(rows, retriever)

    def search(self, question: str, k: int) -> list[dict[str, object]]:
        """The best ``k`` splits with a positive score, best first (none when no word is shared)."""
        words = [w for w in tokenize([question])[0] if w in self.retriever.vocab_dict]
        if not words or not self.rows:
            return []
        scores = np.asarray(self.retriever.get_scores(words))
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [{**self.rows[i], "score": round(float(scores[i]), 4)} for i in top if scores[i] > 0]


@dataclass
class BM25Run:
    result: SystemResult
    hits: Hits = field(default_factory=dict)
    timings: Timings = field(default_factory=dict)


def run(data: Dataset, k: int, repeat: int = 1, latency_passes: int = 1) -> BM25Run:
    """Build ``repeat`` times (the fastest counts), then ask every question ``latency_passes`` times."""
    wall: list[float] = []
    cpu: list[float] = []
    index: PlainBM25 | None = None
    with RssSampler() as index_mem:
        for _ in range(repeat):
            with Stopwatch() as t:
                built = PlainBM25.build(data)
            wall.append(t.seconds)
            cpu.append(t.cpu)
            index = index or built
    assert index is not None
    say(f"{data.name}: plain BM25 over {len(index.rows):,} splits built in {min(wall):.2f} s")
    questions = [q["question"] for q in data.questions]
    hits, passes, peak = timed_questions(f"{data.name} plain BM25", questions, lambda q: index.search(q, k),
                                         latency_passes)
    metrics, dropped = evaluate(data.questions, hits)
    lat, best = Latency.of(passes[0]), Latency.of(best_of(passes))
    say(f"{data.name}: plain BM25: {metrics} p50 {lat.p50_ms:.1f} ms p95 {lat.p95_ms:.1f} ms")
    result = SystemResult(
        corpus=data.name, system=f"plain BM25 ({CHUNK_SIZE}/{CHUNK_OVERLAP} splits, k={k})", key=KEY, k=k,
        metrics=metrics, dropped=dropped, chunks=len(index.rows), index_s=min(wall), index_runs=wall,
        index_cpu_s=min(cpu), p50_ms=lat.p50_ms, p95_ms=lat.p95_ms, mean_ms=lat.mean_ms, p50_best_ms=best.p50_ms,
        p95_best_ms=best.p95_ms, latency_passes=latency_passes, peak_rss_mib=max(index_mem.peak, peak),
        added_rss_mib=max(index_mem.peak, peak) - index_mem.start,
        note=f"RecursiveCharacterTextSplitter({CHUNK_SIZE}, {CHUNK_OVERLAP}), bm25s defaults, stop words "
        f"{STOPWORDS!r}",
    )
    return BM25Run(result, hits, per_question(data, passes))


def available() -> str | None:
    """Why the baseline cannot run here (its splitter is missing), or None when it can."""
    try:
        import langchain_text_splitters  # noqa: F401
    except ImportError as exc:
        return f"plain BM25 not run: {exc.name} is not installed (the `bench` extra)"
    return None


"""citebot through its public API: index once, then ask in every mode on the same index.

Everything comes from ``index.Settings`` defaults (plus ``CITEBOT_*`` variables, never a ``.env``
file), so a rerun measures whatever ranking the library ships at that moment.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from citebot.index import CitebotError, Embedder, Engine, Settings, WrappedEmbedder
from citebot.index.embedder import Spans
from citebot.index.evaluate import caution

from .data import Dataset
from .measure import WARM_UP_QUESTIONS, Latency, RssSampler, Stopwatch, Ticker, Timing, best_of, say
from .results import SystemResult
from .scoring import Hits, Timings, evaluate, per_question

EncodeOnly = Callable[[Sequence[str]], Timing]
REINDEX_RUNS = 3


class RecordingEmbedder(WrappedEmbedder):
    """Wraps citebot's embedder to keep the exact texts it encodes and the time spent encoding them.

    The texts feed the encode-only baseline, so it encodes what citebot actually embedded (chunk text
    with its heading context), whatever the chunker does after tuning.
    """

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self.texts: list[str] = []
        self.seconds = 0.0
        self.vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def embed_passages(self, texts: Sequence[str], line_spans: Sequence[Spans]) -> tuple[np.ndarray, list[np.ndarray]]:
        t0 = time.perf_counter()
        out = self.inner.embed_passages(texts, line_spans)
        self.seconds += time.perf_counter() - t0
        self.texts.extend(texts)
        self.vectors.update({t: (v, lv) for t, v, lv in zip(texts, out[0], out[1])})
        return out


class ReplayEmbedder(WrappedEmbedder):
    """Hands back the vectors a recorded build computed, at no cost: a build with it times everything the
    indexer does except the model (chunking, token counting, hashing, storing, the keyword index)."""

    def __init__(self, recorded: RecordingEmbedder) -> None:
        super().__init__(recorded.inner)
        self.recorded = recorded.vectors

    def embed_passages(self, texts: Sequence[str], line_spans: Sequence[Spans]) -> tuple[np.ndarray, list[np.ndarray]]:
        return np.stack([self.recorded[t][0] for t in texts]), [self.recorded[t][1] for t in texts]


@dataclass(frozen=True)
class Pass:
    key: str
    label: str
    mode: str
    k: int | None  # None: the ``top_k`` setting, as the bot asks


def passes(k_eval: int, top_k: int) -> list[Pass]:
    """The default ask (as the bot calls it), then every mode at the evaluation depth."""
    return [
        Pass("citebot-default", f"citebot defaults (hybrid, k={top_k})", "hybrid", None),
        Pass("citebot-hybrid", f"citebot hybrid (k={k_eval})", "hybrid", k_eval),
        Pass("citebot-dense", f"citebot dense-only (k={k_eval})", "dense", k_eval),
        Pass("citebot-keyword", f"citebot BM25-only (k={k_eval})", "keyword", k_eval),
    ]


def bench_settings(db: Path, docs: Path) -> Settings:
    """Library defaults (and CITEBOT_* variables) with a fresh local store; a server setting is ignored."""
    return Settings(db_path=db, docs_dir=docs, chroma_host=None, state_dir=None, _env_file=None)  # type: ignore[call-arg]


@dataclass
class CitebotRun:
    results: list[SystemResult]
    texts: list[str]  # what the model encoded while indexing
    hits: dict[str, Hits] = field(default_factory=dict)  # pass key -> question -> hits
    timings: dict[str, Timings] = field(default_factory=dict)  # pass key -> question -> ms of each timing pass
    index_runs: list[float] = field(default_factory=list)
    encode_runs: list[float] = field(default_factory=list)


def _hit_row(hit: Any) -> dict[str, Any]:
    return {"source": hit.source, "line_start": hit.line_start, "line_end": hit.line_end, "line": hit.line,
            "score": round(float(hit.score), 4)}


def ask_all(
    engine: Engine, data: Dataset, p: Pass, latency_passes: int = 1
) -> tuple[Hits, list[list[float]], int, dict[str, bool]]:
    """Every question, timed one by one after a few untimed warm-up asks; hits, and which answers were
    tentative (``Answer.tentative``), come from the first pass.

    Later passes only re-time the same questions, so that per-question best times can be reported.
    """
    questions = [q["question"] for q in data.questions]
    for q in questions[:WARM_UP_QUESTIONS]:
        with contextlib.suppress(CitebotError):
            engine.ask(q, k=p.k, mode=p.mode)  # type: ignore[arg-type]
    hits: Hits = {}
    tentative: dict[str, bool] = {}
    timed: list[list[float]] = []
    errors = 0
    for rep in range(latency_passes):
        seconds: list[float] = []
        tick = Ticker(f"{data.name} {p.key}" + (f" (timing pass {rep + 1})" if rep else ""), len(questions))
        for i, q in enumerate(questions):
            t0 = time.perf_counter()
            try:
                answer = engine.ask(q, k=p.k, mode=p.mode)  # type: ignore[arg-type]
            except CitebotError:
                answer = None
            seconds.append(time.perf_counter() - t0)
            if rep == 0:
                errors += answer is None
                hits[q] = [] if answer is None else [_hit_row(h) for h in answer.hits]
                tentative[q] = answer is not None and answer.tentative
            tick(i + 1)
        timed.append(seconds)
    return hits, timed, errors, tentative


@dataclass
class Builds:
    """Every from-scratch build of one corpus, each followed by the encode-only baseline."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    embed: list[float] = field(default_factory=list)
    encode_wall: list[float] = field(default_factory=list)
    encode_cpu: list[float] = field(default_factory=list)
    without_model: list[float] = field(default_factory=list)  # the same build replayed with recorded vectors


def build_all(data: Dataset, embedder: Embedder, workdir: Path, encode: EncodeOnly | None, repeat: int,
              progress: Any) -> tuple[Builds, Any, list[str]]:
    """Index ``repeat`` times into fresh stores; the first store is the one asked afterwards."""
    b = Builds()
    first: Any = None
    texts: list[str] = []
    for attempt in range(repeat):
        name = data.name if attempt == 0 else f"{data.name}-again-{attempt}"
        recorder = RecordingEmbedder(embedder)
        with Stopwatch() as t:
            built = Engine(bench_settings(workdir / "citebot" / name, data.corpus), recorder).index(
                data.corpus, progress=progress)
        b.wall.append(t.seconds)
        b.cpu.append(t.cpu)
        b.embed.append(recorder.seconds)
        first = first or built
        texts = texts or list(recorder.texts)
        say(f"{data.name}: citebot indexed in {t.seconds:.1f} s ({recorder.seconds:.1f} s embedding, "
            f"{t.cpu:.1f} CPU s): {built.summary()}")
        with Stopwatch() as replay:
            Engine(bench_settings(workdir / "citebot" / f"{name}-replay", data.corpus), ReplayEmbedder(recorder)).index(
                data.corpus)
        b.without_model.append(replay.seconds)
        say(f"{data.name}: the same build without the model (recorded vectors): {replay.seconds:.1f} s")
        if encode is not None:
            timing = encode(recorder.texts)
            b.encode_wall.append(timing.wall)
            b.encode_cpu.append(timing.cpu)
            say(f"{data.name}: encode-only, same {len(recorder.texts):,} texts: {timing.wall:.1f} s "
                f"({timing.cpu:.1f} CPU s)")
    return b, first, texts


def run(data: Dataset, embedder: Embedder, workdir: Path, k_eval: int, encode: EncodeOnly | None = None,
        repeat: int = 1, latency_passes: int = 1) -> CitebotRun:
    """Index ``data`` into a fresh store (``repeat`` times, each followed by the encode-only baseline on the
    same texts, fastest of each kept), re-index it unchanged, then ask every pass on the first index."""
    settings = bench_settings(workdir / "citebot" / data.name, data.corpus)
    engine = Engine(settings, embedder)
    with Stopwatch() as load:
        engine.warm_up()
        embedder.count_tokens(["warm up"])
    say(f"{data.name}: citebot model ready ({load.seconds:.1f} s); indexing {data.corpus}")
    tick = Ticker(f"{data.name} citebot index", 0)

    def progress(stage: str, done: int, total: int) -> None:
        tick.label, tick.total = f"{data.name} citebot {stage}", total
        tick(done)

    with RssSampler() as index_mem:
        builds, report, texts = build_all(data, embedder, workdir, encode, repeat, progress)

    reindex: list[float] = []
    for _ in range(REINDEX_RUNS):
        fresh = Engine(settings, embedder)  # a new engine, as a new `citebot index` run would build
        with Stopwatch() as t_re:
            again = fresh.index(data.corpus)
        reindex.append(t_re.seconds)
        if again.embedded or again.added or again.updated or again.removed:
            say(f"{data.name}: unchanged re-index did work: {again.summary()}")
    say(f"{data.name}: unchanged re-index {statistics.median(reindex):.2f} s (median of {REINDEX_RUNS})")

    fastest = builds.wall.index(min(builds.wall))
    out = CitebotRun([], texts, index_runs=builds.wall, encode_runs=builds.encode_wall)
    for p in passes(k_eval, settings.top_k):
        with RssSampler() as mem:
            hits, timed, errors, tentative = ask_all(engine, data, p, latency_passes)
        metrics, dropped = evaluate(data.questions, hits)
        metrics.update(caution(data.questions, tentative))
        lat, best = Latency.of(timed[0]), Latency.of(best_of(timed))
        out.hits[p.key] = hits
        out.timings[p.key] = per_question(data, timed)
        out.results.append(SystemResult(
            corpus=data.name, system=p.label, key=p.key, k=p.k or settings.top_k, metrics=metrics, dropped=dropped,
            errors=errors, chunks=report.chunks, index_s=builds.wall[fastest], embed_s=builds.embed[fastest],
            encode_only_s=min(builds.encode_wall, default=None), reindex_s=statistics.median(reindex),
            p50_ms=lat.p50_ms, p95_ms=lat.p95_ms, mean_ms=lat.mean_ms, p50_best_ms=best.p50_ms,
            p95_best_ms=best.p95_ms, latency_passes=latency_passes,
            peak_rss_mib=max(index_mem.peak, mem.peak), added_rss_mib=max(index_mem.peak, mem.peak) - index_mem.start,
            index_runs=builds.wall, encode_runs=builds.encode_wall, index_cpu_s=min(builds.cpu),
            encode_only_cpu_s=min(builds.encode_cpu, default=None), note="one shared index for all citebot rows",
            without_model_s=min(builds.without_model, default=None),
        ))
        say(f"{data.name}: {p.label}: {metrics} p50 {lat.p50_ms:.1f} ms p95 {lat.p95_ms:.1f} ms"
            + (f" (best of {latency_passes}: {best.p50_ms:.1f} / {best.p95_ms:.1f} ms)" if latency_passes > 1 else ""))
    return out

"""LangChain's default retrieval pipeline over the same files, for comparison.

RecursiveCharacterTextSplitter(1000, 200) -> HuggingFaceEmbeddings(the bundled model) -> Chroma ->
similarity_search(k). Splits carry no line numbers, so each one is mapped back to the lines it covers
(``bench.spans``) and its hits are scored by span; it never names an answering line and never abstains.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .data import Dataset, corpus_files
from .measure import Latency, RssSampler, Stopwatch, Timing, best_of, say, timed_questions
from .results import SystemResult
from .scoring import Hits, Timings, evaluate, per_question
from .spans import LineMap, line_span

CHUNK_SIZE, CHUNK_OVERLAP = 1000, 200


class MissingExtra(RuntimeError):
    """The optional ``bench`` extra is not installed."""


def embeddings(model_path: str) -> Any:
    """LangChain's sentence-transformers wrapper around the same bundled model citebot uses."""
    try:
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError as exc:
        raise MissingExtra(
            f"LangChain is not installed ({exc.name}): run `make bench`, or "
            "`.venv/bin/pip install -c constraints.txt -e '.[bench]'`, or pass --skip-langchain"
        ) from None
    return HuggingFaceEmbeddings(model_name=model_path)


def split(data: Dataset) -> tuple[list[Any], dict[str, str]]:
    """The corpus as LangChain documents split its default way, each split knowing its line span."""
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    docs, texts = [], {}
    for path in corpus_files(data.corpus):
        source = path.relative_to(data.corpus).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        texts[source] = text
        docs.append(Document(page_content=text, metadata={"source": source}))
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True)
    return list(splitter.split_documents(docs)), texts


def add_line_spans(splits: list[Any], texts: dict[str, str]) -> None:
    """Record ``line_start``/``line_end`` in each split's metadata (stored with it in Chroma)."""
    maps = {source: LineMap.of(text) for source, text in texts.items()}
    for s in splits:
        source = s.metadata["source"]
        start, end = line_span(texts[source], s.page_content, s.metadata.get("start_index"), maps[source])
        s.metadata["line_start"], s.metadata["line_end"] = start, end


def _timed(emb: Any) -> Any:
    """The same embeddings object, wrapped to add up the time spent embedding documents."""
    from langchain_core.embeddings import Embeddings

    class Timed(Embeddings):
        def __init__(self) -> None:
            self.seconds = 0.0

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            t0 = time.perf_counter()
            vectors: list[list[float]] = emb.embed_documents(texts)
            self.seconds += time.perf_counter() - t0
            return vectors

        def embed_query(self, text: str) -> list[float]:
            vector: list[float] = emb.embed_query(text)
            return vector

    return Timed()


@dataclass
class LangChainRun:
    result: SystemResult
    texts: list[str]
    hits: Hits = field(default_factory=dict)
    timings: Timings = field(default_factory=dict)


def run(data: Dataset, emb: Any, workdir: Path, k: int, encode: Callable[[Sequence[str]], Timing] | None = None,
        repeat: int = 1, latency_passes: int = 1) -> LangChainRun:
    """Split, embed and store ``repeat`` times (fresh collection each, encode-only after each), then query."""
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma

    wall: list[float] = []
    cpu: list[float] = []
    embed: list[float] = []
    encode_wall: list[float] = []
    encode_cpu: list[float] = []
    store: Any = None
    with RssSampler() as index_mem:
        for attempt in range(repeat):
            with Stopwatch() as t_split:
                splits, texts = split(data)
            add_line_spans(splits, texts)  # bench bookkeeping, outside the clock
            timed = _timed(emb)
            say(f"{data.name}: LangChain split {len(splits):,} chunks; embedding and storing")
            folder = workdir / "langchain" / (data.name if attempt == 0 else f"{data.name}-again-{attempt}")
            with Stopwatch() as t_store:
                built = Chroma.from_documents(
                    splits, timed, collection_name="langchain", persist_directory=str(folder),
                    client_settings=ChromaSettings(anonymized_telemetry=False),
                )
            store = store or built
            wall.append(t_split.seconds + t_store.seconds)
            cpu.append(t_split.cpu + t_store.cpu)
            embed.append(timed.seconds)
            say(f"{data.name}: LangChain indexed in {wall[-1]:.1f} s ({timed.seconds:.1f} s embedding, "
                f"{cpu[-1]:.1f} CPU s)")
            if encode is not None:
                timing = encode([s.page_content for s in splits])
                encode_wall.append(timing.wall)
                encode_cpu.append(timing.cpu)
                say(f"{data.name}: encode-only, same {len(splits):,} texts: {timing.wall:.1f} s "
                    f"({timing.cpu:.1f} CPU s)")
    fastest = wall.index(min(wall))

    def search(question: str) -> list[dict[str, Any]]:
        return [{"source": d.metadata["source"], "line_start": d.metadata["line_start"],
                 "line_end": d.metadata["line_end"]} for d in store.similarity_search(question, k=k)]

    questions = [q["question"] for q in data.questions]
    hits, passes, peak = timed_questions(f"{data.name} langchain", questions, search, latency_passes)
    metrics, dropped = evaluate(data.questions, hits)
    lat, best = Latency.of(passes[0]), Latency.of(best_of(passes))
    say(f"{data.name}: LangChain: {metrics} p50 {lat.p50_ms:.1f} ms p95 {lat.p95_ms:.1f} ms")
    result = SystemResult(
        corpus=data.name, system=f"LangChain default (k={k})", key="langchain", k=k, metrics=metrics,
        dropped=dropped, chunks=len(splits), index_s=wall[fastest], embed_s=embed[fastest],
        encode_only_s=min(encode_wall, default=None), index_runs=wall, encode_runs=encode_wall,
        index_cpu_s=min(cpu), encode_only_cpu_s=min(encode_cpu, default=None),
        p50_ms=lat.p50_ms, p95_ms=lat.p95_ms, mean_ms=lat.mean_ms, p50_best_ms=best.p50_ms, p95_best_ms=best.p95_ms,
        latency_passes=latency_passes, peak_rss_mib=max(index_mem.peak, peak),
        added_rss_mib=max(index_mem.peak, peak) - index_mem.start,
        note=f"RecursiveCharacterTextSplitter({CHUNK_SIZE}, {CHUNK_OVERLAP}), Chroma defaults, similarity_search",
    )
    return LangChainRun(result, [s.page_content for s in splits], hits, per_question(data, passes))

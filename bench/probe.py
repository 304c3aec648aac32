"""Child processes of the store-scale section: ``python -m bench.probe grow|query|bm25 ...``.

Each measurement runs in a fresh process so that its memory is its own (a store opened from disk,
as a restarted bot would open it) and nothing from the main benchmark inflates it. Results are one
JSON object per line on stdout; ``grow`` also reports progress lines while it inserts.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import synthetic as syn
from .measure import Latency, RssSampler, rss_mib


def _store(db: Path) -> Any:
    from citebot.index.settings import Settings
    from citebot.index.store import Store

    return Store(Settings(db_path=db, collection="scale", chroma_host=None, _env_file=None))  # type: ignore[call-arg]


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


def grow(db: Path, start: int, stop: int, seed: int) -> None:
    """Insert chunks ``start..stop`` through ``index.Store.upsert``, as the indexer stores them."""
    from citebot.index.store import StoredChunk

    store = _store(db)
    store.count()  # open the collection outside the clock
    t0 = time.perf_counter()
    done = start
    for block in range(start // syn.BLOCK, (stop + syn.BLOCK - 1) // syn.BLOCK):
        ids = syn.word_ids(block, seed)
        vecs = syn.vectors(block, seed)
        texts = syn.texts(ids)
        base = block * syn.BLOCK
        chunks = []
        for j, text in enumerate(texts):
            first = 1 + 10 * ((base + j) % 20)  # 20 chunks of 5 lines (and a blank) per synthetic file
            units: list[tuple[int, list[int]]] = [(first + n, []) for n in range(syn.LINES)]
            chunks.append(StoredChunk(
                f"syn{base + j:08d}", f"doc{(base + j) // 20:06d}.md", first, first + syn.LINES - 1, text, units,
                "", f"h{base + j:08d}", None, vecs[j],
            ))
        store.upsert(chunks)
        done = base + syn.BLOCK
        if done % 10_000 == 0 or done >= stop:
            _emit({"done": done, "seconds": time.perf_counter() - t0})
    _emit({"final": True, "done": done, "seconds": time.perf_counter() - t0, "count": store.count()})


def query(db: Path, n: int, k: int, fetch: int) -> None:
    """Latency of the dense lookup a question makes (``Store.query``) and of fetching keyword-only candidates."""
    with RssSampler() as mem:  # a child's ru_maxrss starts at its parent's: sample instead
        result = _query(db, n, k, fetch)
    result["peak_rss_mib"] = mem.peak
    _emit(result)


def _query(db: Path, n: int, k: int, fetch: int) -> dict[str, Any]:
    rss0 = rss_mib()
    store = _store(db)
    t0 = time.perf_counter()
    count = store.count()
    rng = np.random.default_rng(99)
    q = rng.standard_normal(syn.DIM).astype(np.float32)
    store.query(q / np.linalg.norm(q), k)  # first query loads the vector index from disk
    open_s = time.perf_counter() - t0
    rss_open = rss_mib()
    lat, get_lat = [], []
    for _ in range(n):
        q = rng.standard_normal(syn.DIM).astype(np.float32)
        q /= np.linalg.norm(q)
        t = time.perf_counter()
        store.query(q, k)
        lat.append(time.perf_counter() - t)
        ids = [f"syn{x:08d}" for x in rng.choice(count, min(fetch, count), replace=False)]
        t = time.perf_counter()
        store.get(ids, embeddings=True)
        get_lat.append(time.perf_counter() - t)
    counts = []
    for _ in range(20):  # the store re-counts itself before a question when its cached count is stale
        t = time.perf_counter()
        store.count()
        counts.append(time.perf_counter() - t)
    ql, gl, cl = Latency.of(lat), Latency.of(get_lat), Latency.of(counts)
    return {"count": count, "open_s": open_s, "rss_base_mib": rss0, "rss_open_mib": rss_open,
            "query_p50_ms": ql.p50_ms, "query_p95_ms": ql.p95_ms, "get_p50_ms": gl.p50_ms, "get_p95_ms": gl.p95_ms,
            "count_p50_ms": cl.p50_ms, "queries": n}


def bm25(size: int, n: int, k: int, seed: int) -> None:
    """Build ``index.keyword.KeywordIndex`` over ``size`` synthetic chunks and time its searches."""
    with RssSampler() as mem:
        result = _bm25(size, n, k, seed)
    result["peak_rss_mib"] = mem.peak
    _emit(result)


def _bm25(size: int, n: int, k: int, seed: int) -> dict[str, Any]:
    from citebot.index.keyword import KeywordIndex

    rss0 = rss_mib()
    t0 = time.perf_counter()
    ids: list[str] = []
    lists: list[list[str]] = []
    for block in range((size + syn.BLOCK - 1) // syn.BLOCK):
        words = syn.word_ids(block, seed)
        take = min(syn.BLOCK, size - block * syn.BLOCK)
        lists.extend(syn.term_lists(words[:take]))
        ids.extend(f"syn{block * syn.BLOCK + j:08d}" for j in range(take))
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = KeywordIndex.build_from_terms(ids, lists)
    build_s = time.perf_counter() - t0
    del lists
    rss_built = rss_mib()
    rng = np.random.default_rng(98)
    vocab_terms = syn._vocab_terms()
    lat = []
    for _ in range(n):
        row = syn.word_ids(int(rng.integers(0, (size + syn.BLOCK - 1) // syn.BLOCK)), seed)[int(rng.integers(0, 50))]
        picked = rng.choice(row, 4, replace=False).tolist() + rng.integers(0, syn.VOCAB, 2).tolist()
        q_terms = [t for i in picked for t in vocab_terms[i]]
        t = time.perf_counter()
        index.search(q_terms, k)
        lat.append(time.perf_counter() - t)
    ql = Latency.of(lat)
    return {"size": size, "generate_s": gen_s, "build_s": build_s, "rss_base_mib": rss0, "rss_built_mib": rss_built,
            "query_p50_ms": ql.p50_ms, "query_p95_ms": ql.p95_ms, "queries": n}


def main(argv: list[str] | None = None) -> None:
    from citebot.index import configure_process

    configure_process()
    parser = argparse.ArgumentParser(prog="python -m bench.probe")
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grow")
    g.add_argument("--db", type=Path, required=True)
    g.add_argument("--start", type=int, required=True)
    g.add_argument("--stop", type=int, required=True)
    g.add_argument("--seed", type=int, default=0)
    q = sub.add_parser("query")
    q.add_argument("--db", type=Path, required=True)
    q.add_argument("--n", type=int, default=200)
    q.add_argument("--k", type=int, default=50)
    q.add_argument("--fetch", type=int, default=40)
    b = sub.add_parser("bm25")
    b.add_argument("--size", type=int, required=True)
    b.add_argument("--n", type=int, default=200)
    b.add_argument("--k", type=int, default=40)
    b.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.cmd == "grow":
        grow(args.db, args.start, args.stop, args.seed)
    elif args.cmd == "query":
        query(args.db, args.n, args.k, args.fetch)
    else:
        bm25(args.size, args.n, args.k, args.seed)


if __name__ == "__main__":
    main()

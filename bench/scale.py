"""How query latency and memory grow with the store: synthetic chunks at 10k, 100k, 1M, ...

The store grows in one Chroma directory; after each size a fresh child process opens it and times
the dense lookup a question makes, and another builds and queries the BM25 index at that size.
Growing is by far the slowest part (Chroma builds its HNSW graph on insert), so it runs under a
time budget: a size that cannot be reached in time is extrapolated from the measured ones and
marked as such, never passed off as measured.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from .measure import say
from .results import ScalePoint

SLOWDOWN = 1.3  # inserts get slower as the graph grows: predictions use the last step's rate, padded
PROBE_TIMEOUT = 900


def _dir_mib(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).stat().st_size
    return total / 2**20


def _probe(args: list[str], timeout: float, on_line: Any = None) -> tuple[list[dict[str, Any]], bool]:
    """Run ``python -m bench.probe ARGS``; its JSON lines, and whether it finished before ``timeout``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.probe", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    finished = False
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            if time.monotonic() >= deadline:
                break
            continue
        if line is None:
            finished = proc.wait() == 0
            break
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        rows.append(row)
        if on_line:
            on_line(row)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if not finished and proc.stderr is not None:
        err = proc.stderr.read().strip().splitlines()
        if err:
            say(f"probe {args[0]} stopped: {err[-1]}")
    return rows, finished


def _fit(xs: list[float], ys: list[float], x: float) -> float | None:
    """Least-squares line through the measured points, read at ``x``."""
    if len(xs) < 2:
        return None
    slope, intercept = np.polyfit(xs, ys, 1)
    return float(slope * x + intercept)


def _power(xs: list[float], ys: list[float], x: float) -> float | None:
    """Continue the growth between the last two measured points as a power law (a straight line in log-log)."""
    if len(xs) < 2 or min(xs[-2:]) <= 0 or min(ys[-2:]) <= 0:
        return None
    slope = math.log(ys[-1] / ys[-2]) / math.log(xs[-1] / xs[-2])
    return ys[-1] * (x / xs[-1]) ** slope


def extrapolate(measured: list[ScalePoint], size: int, reached: int, insert_s: float, rate: float | None) -> ScalePoint:
    """A size not reached in time: latency continues its last measured power-law growth, memory and disk are
    fitted linearly in size."""
    point = ScalePoint(size=size, extrapolated=True)
    if rate:
        point.insert_s = insert_s + (size - reached) / rate
        point.insert_rate = rate
    chroma = [p for p in measured if p.chroma and not p.extrapolated]
    sizes = [float(p.size) for p in chroma]
    # Neither latency nor memory shrinks as the store grows: a noisy fit never goes below the last measurement.
    for key in ("query_p50_ms", "query_p95_ms", "get_p50_ms", "get_p95_ms", "count_p50_ms"):
        if any(key not in p.chroma for p in chroma):
            continue
        value = _power(sizes, [p.chroma[key] for p in chroma], float(size))
        if value is not None:
            point.chroma[key] = max(value, chroma[-1].chroma[key])
    for key in ("rss_open_mib", "peak_rss_mib"):
        value = _fit(sizes, [p.chroma[key] for p in chroma], float(size))
        if value is not None:
            point.chroma[key] = max(value, chroma[-1].chroma[key])
    disk = [p for p in chroma if p.disk_mib]
    point.disk_mib = _fit([float(p.size) for p in disk], [p.disk_mib or 0.0 for p in disk], float(size))
    point.note = (
        f"not reached within the time budget ({reached:,} chunks stored): Chroma numbers extrapolated from the "
        "measured sizes (latency growing as between the last two measured sizes, as a power of size; memory and "
        "disk linear in size); insert time assumes the "
        "last measured rate holds, which makes it a lower bound"
    )
    return point


def nice_below(limit: float) -> int:
    """The largest 1, 2, 3 or 5 times a power of ten not above ``limit`` (0 when below 1,000)."""
    best = 0
    for power in range(3, 10):
        for lead in (1, 2, 3, 5):
            value = lead * 10**power
            if value <= limit:
                best = max(best, value)
    return best


class _Grower:
    """Grows one store step by step and measures it after each step, within a budget of inserting time."""

    def __init__(self, db: Path, budget_s: float, dense_k: int, keyword_k: int) -> None:
        self.db, self.budget_s, self.dense_k, self.keyword_k = db, budget_s, dense_k, keyword_k
        self.stored, self.insert_s, self.spent = 0, 0.0, 0.0
        self.rate: float | None = None

    def predicted(self, size: int) -> float:
        return (size - self.stored) / self.rate * SLOWDOWN if self.rate else 0.0

    @property
    def remaining(self) -> float:
        return self.budget_s - self.spent

    def grow(self, size: int) -> bool:
        """Insert up to ``size``; False when the budget ran out first."""
        say(f"scale: growing the store from {self.stored:,} to {size:,} chunks")
        step_start = self.stored

        def progress(row: dict[str, Any]) -> None:
            if "final" not in row:
                done, secs = row["done"], row["seconds"]
                say(f"scale: {done:,} chunks stored ({(done - step_start) / max(secs, 1e-9):,.0f}/s this step)")

        rows, finished = _probe(
            ["grow", "--db", str(self.db), "--start", str(self.stored), "--stop", str(size)], self.remaining, progress
        )
        done = max((r["done"] for r in rows), default=self.stored)
        secs = max((r["seconds"] for r in rows), default=0.0)
        self.spent += secs
        self.insert_s += secs
        if done > self.stored and secs > 0:
            self.rate = (done - self.stored) / secs
        self.stored = done
        return finished and done >= size

    def measure(self, size: int) -> ScalePoint:
        point = ScalePoint(size=size, insert_s=self.insert_s, insert_rate=self.rate, disk_mib=_dir_mib(self.db))
        say(f"scale: {size:,} chunks stored in {self.insert_s:.0f} s; timing queries in a fresh process")
        rows, _ = _probe(["query", "--db", str(self.db), "--k", str(self.dense_k), "--fetch", str(self.keyword_k)],
                         PROBE_TIMEOUT)
        if rows:
            point.chroma = rows[-1]
        return point

    def bm25(self, point: ScalePoint) -> None:
        say(f"scale: BM25 over {point.size:,} synthetic chunks")
        rows, _ = _probe(["bm25", "--size", str(point.size), "--k", str(self.keyword_k)], PROBE_TIMEOUT)
        if rows:
            point.bm25 = rows[-1]
        else:
            point.note = (point.note + "; " if point.note else "") + "BM25 probe did not finish"


def run(sizes: list[int], workdir: Path, budget_s: float, dense_k: int, keyword_k: int,
        on_point: Any = None) -> tuple[list[ScalePoint], str]:
    """Grow the store through ``sizes`` (ascending) within ``budget_s`` seconds of inserting.

    When the next size cannot be reached in the time left, the store is grown to the largest round
    size that can (so the extrapolation rests on one more measured point) and the rest is extrapolated.
    """
    db = workdir / "scale" / "chroma"
    db.parent.mkdir(parents=True, exist_ok=True)
    g = _Grower(db, budget_s, dense_k, keyword_k)
    points: list[ScalePoint] = []
    blocked = False

    def add(point: ScalePoint) -> None:
        points.append(point)
        if on_point:
            on_point(points)

    for size in sorted(set(sizes)):
        if not blocked and g.rate and g.predicted(size) > g.remaining:
            say(f"scale: {size:,} chunks would need ~{g.predicted(size) / 60:.0f} min more of inserting "
                f"({g.remaining / 60:.0f} min left in the budget)")
            blocked = True
            between = nice_below(g.stored + g.remaining * g.rate / SLOWDOWN)
            if between >= 2 * g.stored and between < size and g.grow(between):
                point = g.measure(between)
                point.note = f"intermediate size, measured because {size:,} did not fit the time budget"
                g.bm25(point)
                add(point)
        if not blocked and not g.grow(size):
            say(f"scale: stopped at {g.stored:,} chunks: time budget spent")
            blocked = True
        point = extrapolate(points, size, g.stored, g.insert_s, g.rate) if blocked else g.measure(size)
        g.bm25(point)
        add(point)
    note = (
        f"Chroma grown through index.Store.upsert (batches of 1,000, cosine space, embeddings supplied, telemetry "
        f"off) with random unit 384-d vectors and generated 5-line texts; line vectors left out (the real index "
        f"stores them as metadata, read only for the few candidates of a question). Insert budget "
        f"{budget_s / 60:.3g} min. Dense lookup = Store.query(n={dense_k}), as a question makes; fetch = Store.get "
        f"of {keyword_k} random ids with embeddings (keyword-only candidates); count() = Collection.count(), "
        f"which index.Store consults to size a query (index/store.py decides how often). Memory = RSS of a "
        f"fresh process that opened the store and ran the queries."
    )
    return points, note

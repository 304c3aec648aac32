"""Clocks and memory probes shared by every benchmark section."""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

MIB = 1024 * 1024


def rss_mib() -> float:
    """Resident memory of this process now (psutil from the bench extra, else /proc on Linux)."""
    try:
        import psutil
    except ImportError:
        try:
            pages = int(Path("/proc/self/statm").read_text().split()[1])
            return pages * os.sysconf("SC_PAGE_SIZE") / MIB
        except (OSError, ValueError, IndexError):
            return max_rss_mib()
    return float(psutil.Process().memory_info().rss) / MIB


def max_rss_mib() -> float:
    """The kernel's high-water mark of this process's resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssSampler:
    """Highest resident memory seen while a block runs, sampled on a thread.

    One process runs every system, so the high-water mark alone would only ever grow; sampling
    per phase tells each phase's own peak and how much it added to what was already resident.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.start = 0.0
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self.start = self.peak = rss_mib()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_mib())

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, rss_mib())

    @property
    def added(self) -> float:
        return self.peak - self.start


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p95_ms: float
    mean_ms: float
    n: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        import numpy as np

        if not seconds:
            return cls(float("nan"), float("nan"), float("nan"), 0)
        ms = np.asarray(seconds) * 1000
        return cls(float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), float(ms.mean()), len(ms))


@dataclass(frozen=True)
class Timing:
    """Wall seconds, and CPU seconds of the whole process (all threads).

    CPU time does not grow while the process waits for a CPU that other work holds, so ratios of CPU
    times stay meaningful on a busy machine where wall-clock ratios swing.
    """

    wall: float
    cpu: float


class Stopwatch:
    """``with Stopwatch() as t: ...`` then ``t.seconds`` (wall) and ``t.cpu`` (process CPU)."""

    def __init__(self) -> None:
        self.seconds = self.cpu = 0.0
        self._t0 = self._c0 = 0.0

    def __enter__(self) -> Stopwatch:
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self._t0
        self.cpu = time.process_time() - self._c0

    @property
    def timing(self) -> Timing:
        return Timing(self.seconds, self.cpu)


def best_of(passes: Sequence[Sequence[float]]) -> list[float]:
    """Per question, the fastest of several timed passes: what is left when other work's interference is not."""
    return [min(times) for times in zip(*passes, strict=True)] if passes else []


def say(message: str) -> None:
    """Progress goes to stderr so that stdout stays clean for anything a caller pipes."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Ticker:
    """Progress every ``every`` seconds at most, so long loops stay readable on a terminal."""

    def __init__(self, label: str, total: int, every: float = 15.0) -> None:
        self.label, self.total, self.every = label, total, every
        self._last = time.monotonic()

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            say(f"{self.label}: {done:,}/{self.total:,}")


WARM_UP_QUESTIONS = 5  # untimed asks first: the first calls of any system pay for lazy initialisation


def timed_questions(
    label: str, questions: Sequence[str], search: Callable[[str], list[dict[str, Any]]], passes: int
) -> tuple[dict[str, list[dict[str, Any]]], list[list[float]], float]:
    """Ask every question ``passes`` times after a few untimed warm-up asks, timing each ask.

    Returns the hits of the first pass by question, the seconds of every pass, and the peak resident
    memory (MiB) while asking.
    """
    for q in questions[:WARM_UP_QUESTIONS]:
        search(q)
    hits: dict[str, list[dict[str, Any]]] = {}
    timed: list[list[float]] = []
    with RssSampler() as mem:
        for rep in range(passes):
            seconds: list[float] = []
            tick = Ticker(label + (f" (timing pass {rep + 1})" if rep else ""), len(questions))
            for i, q in enumerate(questions):
                t0 = time.perf_counter()
                found = search(q)
                seconds.append(time.perf_counter() - t0)
                if rep == 0:
                    hits[q] = found
                tick(i + 1)
            timed.append(seconds)
    return hits, timed, mem.peak

"""The searcher's cache of parsed passages under the bot's concurrency: many threads asking at once.

The bot answers up to four questions at a time from one Engine. With a cache smaller than what one
question reads, every ask evicts entries while other threads read and insert: the cache must stay
consistent (no KeyError, no "dictionary changed size during iteration") and answers must not depend
on what happened to be cached.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from citebot.index import Engine, search

from .helpers import ask_json, hash_settings, write_files

THREADS = 8  # twice the bot's ask concurrency: the race needs two threads in the cache at one moment
K = 10  # hits per question: 30 candidates, so 30 parses and evictions per ask with a one-entry cache
STEP_WAIT = 0.5  # seconds a thread waits for the others at the lockstep; only the last parses ever wait that long
TOPICS = ("harbour", "orchard", "railway", "library", "glacier", "bakery", "lighthouse", "vineyard")
QUESTIONS = [f"When does the {t} open on day {d}?" for t in TOPICS for d in (1, 4)]


class Lockstep:
    """Wraps the passage parser so that the asking threads leave it together: they then reach the cache's
    bookkeeping close together, where a race shows within a few dozen asks instead of once in thousands.
    Once a thread has no more parses to do, the barrier breaks and the rest run free."""

    def __init__(self, parse: Callable[..., Any], parties: int) -> None:
        self.parse = parse
        self.barrier = threading.Barrier(parties, timeout=STEP_WAIT)

    def __call__(self, lines: Any) -> Any:
        passage = self.parse(lines)
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait()
        return passage


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Let the interpreter switch threads at almost every chance rather than every 5 ms."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def _corpus(root: Path) -> Path:
    files = {}
    for t in TOPICS:
        files[f"{t}.md"] = "\n\n".join(
            f"## Day {d}\n\nThe {t} opens at {d}:00 on day {d}, and the {t} closes at {d + 8}:00 that evening.\n"
            f"Visitors to the {t} on day {d} should bring a ticket numbered {d * 11}."
            for d in range(1, 9)
        )
    return write_files(root, files)


def test_many_threads_asking_at_once_share_a_tiny_passage_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, busy_switching: None
) -> None:
    settings = hash_settings(tmp_path, docs_dir=_corpus(tmp_path / "docs"), chunk_tokens=48)
    engine = Engine(settings)
    engine.index()
    expected = ask_json(engine, QUESTIONS, K)  # one thread, the default (large) cache

    monkeypatch.setattr(search, "PASSAGE_CACHE", 1)  # every parse evicts
    monkeypatch.setattr(search, "prepare", Lockstep(search.prepare, THREADS))
    shared = Engine(settings)
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(ask_json, shared, QUESTIONS, K) for _ in range(THREADS)]
        results = [f.result(timeout=120) for f in futures]
    for answers in results:
        assert answers == expected

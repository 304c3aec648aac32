"""Warm query latency of one long-lived Engine, the way the bot asks: one question at a time.

Usage: python scripts/measure_latency.py DB QUESTIONS.jsonl [--corpus DIR] [-n 400]
With --corpus the index at DB is (re)built first. Prints p50/p95/max after the first question,
whose time (opening Chroma's vector index) is reported separately.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from citebot.index import Engine, Settings  # noqa: E402


def main() -> None:
    from citebot.index import configure_process

    configure_process()
    ap = argparse.ArgumentParser()
    ap.add_argument("db", type=Path)
    ap.add_argument("questions", type=Path)
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("-n", type=int, default=400)
    args = ap.parse_args()
    engine = Engine(Settings(db_path=args.db, _env_file=None))
    engine.warm_up()
    if args.corpus:
        print(engine.index(args.corpus).summary())
    questions = [json.loads(line)["question"] for line in args.questions.open()]
    random.Random(3).shuffle(questions)
    ms = []
    for q in questions[: args.n]:
        started = time.perf_counter()
        engine.ask(q)
        ms.append(1000 * (time.perf_counter() - started))
    rest = np.array(ms[1:])
    print(f"first question {ms[0]:.0f} ms; next {len(rest)}: p50 {np.percentile(rest, 50):.1f} ms, "
          f"p95 {np.percentile(rest, 95):.1f} ms, max {rest.max():.1f} ms")


if __name__ == "__main__":
    main()

"""The SQuAD passages that hold each question's answer, as both training scripts need them.

For every question: the indexed chunk(s) holding a gold line, the question as line scoring sees it
(``Query``: text, vector, word weights), which of the chunk's lines are gold, and whether the question
belongs to the benchmark's fixed-seed sample of 1,000 (``bench.data.sample``, seed 20240611), which
training must never see.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import dedupe, sample  # noqa: E402
from citebot.index import Engine, Settings  # noqa: E402
from citebot.index.evaluate import load_questions  # noqa: E402
from citebot.index.linescore import PassageLines, Query, prepare  # noqa: E402

BENCHMARK_SAMPLE = 1000  # the benchmark's SQuAD sample size (bench/cli.py, --squad-sample default)


@dataclass
class GoldPassage:
    question: str
    answers: list[str]
    source: str
    benchmark: bool  # one of the benchmark's 1,000 questions: held out
    lines: list[str]
    passage: PassageLines
    line_vectors: np.ndarray | None
    query: Query
    gold: np.ndarray  # per line: a gold line


def gold_passages(db: Path, squad: Path, every_chunk: bool = False) -> list[GoldPassage]:
    """Per question the first indexed chunk holding a gold line, or every such chunk (chunks overlap)."""
    engine = Engine(Settings(db_path=db, _env_file=None))  # type: ignore[call-arg]
    valid, keyword = engine.searcher._refresh()
    by_source: dict[str, list[Any]] = {}
    for chunk in engine.store.get(sorted(valid)):
        by_source.setdefault(chunk.source, []).append(chunk)
    questions = dedupe(load_questions(squad / "questions.jsonl"))
    benchmark = {q["question"] for q in sample(questions, BENCHMARK_SAMPLE)}
    found = []
    for q in questions:
        gold = {(g["source"], g["line"]) for g in q["gold"]}
        for chunk in by_source.get(q["gold"][0]["source"], []) if q["gold"] else []:
            flags = np.array([(chunk.source, u[0]) in gold for u in chunk.units], dtype=bool)
            if flags.any():
                found.append((q, chunk, flags))
                if not every_chunk:
                    break
    vectors = engine.embedder.embed_queries([q["question"] for q, *_ in found])
    out = []
    for (q, chunk, flags), vec in zip(found, vectors):
        lines = chunk.text.split("\n")
        out.append(GoldPassage(
            q["question"], q.get("answers", []), chunk.source, q["question"] in benchmark, lines, prepare(lines),
            chunk.lines_matrix(), Query.of(q["question"], vec, keyword.term_idf), flags,
        ))
    return out

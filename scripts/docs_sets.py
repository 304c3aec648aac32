"""The documentation dev sets both fit scripts learn from, and each one's index, in one place.

Each set is a real documentation folder of ``../shared/corpus`` and the questions Discord members ask
of it (``../shared/eval``, with gold lines). ``indexed`` builds (once: a rerun only checks) an index of
a folder with the default settings under a work folder, so ``fit_line_scorer.py`` and
``fit_reranker.py`` (both run by ``make train``) search the same indexes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from citebot.index import Engine, Settings

# name -> (folder indexed, questions), relative to ../shared
DOCS_SETS = {
    "pydantic": ("corpus/pydantic-docs/docs", "eval/docs_dev.jsonl"),
    "discordpy": ("corpus/discordpy-docs/docs", "eval/docs_dev_discordpy.jsonl"),
    "textual": ("corpus/textual-docs/docs", "eval/docs_dev_textual.jsonl"),
}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def docs_sets(shared: Path) -> dict[str, tuple[Path, list[dict]]]:
    """Set name -> (folder indexed, questions)."""
    return {name: (shared / folder, read_jsonl(shared / questions)) for name, (folder, questions) in DOCS_SETS.items()}


def indexed(name: str, folder: Path, work: Path) -> Engine:
    """An engine over ``work/name``, brought in step with ``folder`` (default settings, bundled model)."""
    engine = Engine(Settings(db_path=work / name, _env_file=None))  # type: ignore[call-arg]
    report = engine.index(folder)
    print(f"{name}: {report.summary()}", file=sys.stderr)
    return engine


def base(path: str) -> str:
    """A path's file name: the dev sets' gold lines name files by it (as ``../shared/eval/score.py`` compares)."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def gold_chunks(engine: Engine, questions: list[dict]) -> list[tuple[dict, Any, np.ndarray]]:
    """(question, stored chunk, gold flag per line) for every indexed chunk holding a gold line of an
    answerable question (chunks overlap, so one question may give several)."""
    valid, _ = engine.searcher._refresh()
    by_file: dict[str, list[Any]] = {}
    for chunk in engine.store.get(sorted(valid)):
        by_file.setdefault(base(chunk.source), []).append(chunk)
    found = []
    for q in questions:
        gold = {(base(g["source"]), g["line"]) for g in q["gold"]}
        for name in sorted({f for f, _ in gold}):
            for chunk in by_file.get(name, []):
                flags = np.array([(name, u[0]) in gold for u in chunk.units], dtype=bool)
                if flags.any():
                    found.append((q, chunk, flags))
    return found

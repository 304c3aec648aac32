"""Score every system the same way: ``index.evaluate.score``, cross-checked against ``shared/eval/score.py``."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from citebot.index.evaluate import score, styles

Hits = dict[str, list[dict[str, Any]]]
Timings = dict[str, list[float]]  # question -> milliseconds of each timing pass


def per_question(data: Any, passes: Sequence[Sequence[float]]) -> Timings:
    """Regroup pass-by-pass seconds into per-question milliseconds, so slow questions can be found."""
    questions = [q["question"] for q in data.questions]
    return {q: [round(p[i] * 1000, 2) for p in passes] for i, q in enumerate(questions)}


def evaluate(questions: Sequence[Mapping[str, Any]], hits: Hits) -> tuple[dict[str, Any], int]:
    """The score, plus ``lines@1`` (the median number of lines the top hit cites: a hit counts when its span
    covers a gold line, so wider spans would score higher, and this shows how wide each system's are), and
    how many answerable questions got no hits at all (wrongly dropped)."""
    dropped = sum(1 for q in questions if q["gold"] and not hits.get(q["question"]))
    metrics = score(questions, cast(Mapping[str, list[Mapping[str, Any]]], hits))
    tops = [found[0] for q in questions if q["gold"] and (found := hits.get(q["question"]))]
    spans = [h["line_end"] - h["line_start"] + 1 for h in tops]
    return {**metrics, "lines@1": float(statistics.median(spans)) if spans else None}, dropped


def by_style(questions: Sequence[Mapping[str, Any]], hits: Hits) -> dict[str, dict[str, Any]]:
    """The same score over each ``style`` of question alone, plus ``dropped`` (answerable, no hits) per style.

    Empty when no question carries a style (SQuAD, news). A style of only unanswerable questions scores
    ``abstain`` and leaves the hit columns None; one of only answerable questions leaves ``abstain`` None.
    """
    out = {}
    for style, group in styles(questions).items():
        metrics, dropped = evaluate(group, hits)
        out[style] = {**metrics, "dropped": dropped}
    return out


def write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def save(folder: Path, name: str, questions: Sequence[Mapping[str, Any]], hits: Hits,
         timings: Timings | None = None) -> tuple[Path, Path]:
    """Gold and hits as JSON Lines, so a run can be re-scored or inspected question by question.

    Each hits row also carries ``ms``, the question's time in every timing pass (the shared scorer ignores it).
    """
    gold = folder / f"{name}.gold.jsonl"
    found = folder / f"{name}.hits.jsonl"
    write_jsonl(gold, [{"question": q["question"], "gold": q["gold"]} for q in questions])
    write_jsonl(found, [
        {"question": q["question"], "hits": hits.get(q["question"], []),
         **({"ms": timings[q["question"]]} if timings and q["question"] in timings else {})}
        for q in questions
    ])
    return gold, found


def reference_score(script: Path, gold: Path, hits: Path) -> dict[str, Any] | None:
    """What the shared scorer prints for the same files; None when it is absent or fails."""
    if not script.exists():
        return None
    try:
        out = subprocess.run(
            [sys.executable, str(script), str(gold), str(hits)], capture_output=True, text=True, timeout=120,
            check=True,
        )
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return result
    except (subprocess.SubprocessError, json.JSONDecodeError, IndexError):
        return None


def agrees(ours: Mapping[str, Any], reference: Mapping[str, Any] | None) -> bool | None:
    if reference is None:
        return None
    return all(ours.get(key) == value for key, value in reference.items())

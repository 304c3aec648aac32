"""Score answers against gold lines exactly as ``shared/eval/score.py`` does, so numbers compare."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import UsageError


def load_questions(path: Path) -> list[dict[str, Any]]:
    """``{"question", "gold": [{"source", "line"}]}`` a line; an empty gold means no answer exists."""
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON Lines ({exc.msg} at line {exc.lineno})") from None
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict) or "question" not in row:
            raise UsageError(f"{path}: record {i} has no \"question\"")
        row.setdefault("gold", [])
    return rows


def _base(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _covers(hit: Mapping[str, Any], gold: Mapping[str, Any]) -> bool:
    return _base(hit["source"]) == _base(gold["source"]) and hit["line_start"] <= gold["line"] <= hit["line_end"]


def _precise(hit: Mapping[str, Any], golds: Sequence[Mapping[str, Any]]) -> bool:
    if hit.get("line") is not None:
        return any(_base(hit["source"]) == _base(g["source"]) and hit["line"] == g["line"] for g in golds)
    return hit["line_end"] - hit["line_start"] <= 1 and any(_covers(hit, g) for g in golds)


def score(
    questions: Iterable[Mapping[str, Any]], hits_by_question: Mapping[str, list[Mapping[str, Any]]]
) -> dict[str, Any]:
    """hit@1, hit@5, MRR@10, precise@1 over answerable questions; abstain over unanswerable ones."""
    n = h1 = h5 = p1 = neg = abstained = 0
    mrr = 0.0
    for q in questions:
        hits = hits_by_question.get(q["question"], [])
        golds = q["gold"]
        if not golds:
            neg += 1
            abstained += not hits
            continue
        n += 1
        ranks = [i for i, h in enumerate(hits[:10]) if any(_covers(h, g) for g in golds)]
        if ranks:
            r = ranks[0]
            mrr += 1 / (r + 1)
            h1 += r == 0
            h5 += r < 5
        p1 += bool(hits) and _precise(hits[0], golds)
    return {
        "answerable": n,
        "hit@1": round(h1 / n, 3) if n else None,
        "hit@5": round(h5 / n, 3) if n else None,
        "mrr@10": round(mrr / n, 3) if n else None,
        "precise@1": round(p1 / n, 3) if n else None,
        "unanswerable": neg,
        "abstain": round(abstained / neg, 3) if neg else None,
    }

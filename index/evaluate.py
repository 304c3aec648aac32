"""Score answers against gold lines exactly as ``shared/eval/score.py`` does, so numbers compare."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import UsageError

_GOLD_SHAPE = '{"source": "file", "line": N}'


def load_questions(path: Path) -> list[dict[str, Any]]:
    """``{"question", "gold": [{"source", "line"}]}`` a line; an empty gold means no answer exists.

    Every record is checked here, before any question is asked, so that a malformed file is one
    ``UsageError`` naming the file and the line (as an editor numbers it) rather than a traceback later.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark, as some Windows editors write, is not a record
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UsageError(f"{path}, line {line}: not UTF-8 text (byte {data[exc.start]:#04x})") from None
    rows = [_record(path, number, line) for number, line in enumerate(text.split("\n"), 1) if line.strip()]
    if not rows:
        raise UsageError(f"{path}: no questions (expected one JSON object a line)")
    return rows


def _record(path: Path, number: int, line: str) -> dict[str, Any]:
    where = f"{path}, line {number}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:  # the decoder recurses once per nested array or object
        raise UsageError(f"{where}: not a question record (JSON nested too deeply)") from None
    if not isinstance(row, dict):
        raise UsageError(f'{where}: not a JSON object (expected {{"question": ..., "gold": [...]}})')
    if "question" not in row:
        raise UsageError(f'{where}: no "question"')
    question = row["question"]
    if not isinstance(question, str) or not question.strip():
        raise UsageError(f'{where}: "question" must be a non-empty string, not {json.dumps(question)[:40]}')
    gold = row.setdefault("gold", [])
    if not isinstance(gold, list):
        raise UsageError(f'{where}: "gold" must be a list of {_GOLD_SHAPE} (empty: no answer exists)')
    for i, item in enumerate(gold, 1):
        problem = _gold_problem(item)
        if problem:
            raise UsageError(f"{where}: gold {i} {problem}")
    return row


def _gold_problem(item: object) -> str | None:
    """What is wrong with one gold line, or None; bool is refused although Python counts it an int."""
    if not isinstance(item, dict):
        return f"must be an object {_GOLD_SHAPE}"
    if not isinstance(item.get("source"), str) or not item["source"]:
        return 'needs "source": the file name, a string'
    line = item.get("line")
    if isinstance(line, bool) or not isinstance(line, int) or line < 1:
        return 'needs "line": a line number of at least 1'
    return None


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


def caution(questions: Iterable[Mapping[str, Any]], tentative: Mapping[str, bool]) -> dict[str, Any]:
    """How often answers come with the caution that they may not answer (``Answer.tentative``), over the
    unanswerable questions (``abstain`` plus this share are told no plain answer) and over the answerable ones.
    ``tentative`` maps each asked question to whether its answer was (absent or False: a plain answer or none)."""
    pos = neg = cautioned = caught = 0
    for q in questions:
        flagged = tentative.get(q["question"], False)
        if q["gold"]:
            pos += 1
            cautioned += flagged
        else:
            neg += 1
            caught += flagged
    return {
        "cautioned_unanswerable": round(caught / neg, 3) if neg else None,
        "cautioned_answerable": round(cautioned / pos, 3) if pos else None,
    }


def styles(questions: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """The questions grouped by their ``style`` (lexical, paraphrase, code, unanswerable: how a member asked),
    in the order styles first appear; questions without one are in no group (SQuAD, news)."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for q in questions:
        style = q.get("style")
        if isinstance(style, str) and style:
            groups.setdefault(style, []).append(q)
    return groups


def score_by_style(
    questions: Iterable[Mapping[str, Any]], hits_by_question: Mapping[str, list[Mapping[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """``score`` over each style alone: where a method holds for questions that share words with the answer
    and falls short for paraphrases, the overall figure hides it. Empty when no question has a style."""
    return {style: score(group, hits_by_question) for style, group in styles(questions).items()}

"""The benchmark corpora and their questions, read from ``../shared`` and never copied into the repository."""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citebot.index.evaluate import load_questions

SEED = 20240611  # fixed: every run with the same --squad-sample asks the same questions


@dataclass(frozen=True)
class Dataset:
    """A folder of documents and the questions asked about it."""

    name: str
    corpus: Path
    questions: list[dict[str, Any]]
    note: str = ""

    @property
    def answerable(self) -> int:
        return sum(1 for q in self.questions if q["gold"])


def dedupe(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per question text, the last one winning, in first-seen order.

    ``shared/eval/score.py`` keys gold by question text, so a repeated question counts once there
    with the gold of its last occurrence; doing the same keeps our numbers identical to it.
    """
    last: dict[str, dict[str, Any]] = {}
    for q in questions:
        last[q["question"]] = q  # a dict keeps the first position and takes the last value
    return list(last.values())


def sample(questions: list[dict[str, Any]], n: int, seed: int = SEED) -> list[dict[str, Any]]:
    """``n`` questions drawn with a fixed seed, kept in file order; ``n <= 0`` or ``n >= len`` means all."""
    if n <= 0 or n >= len(questions):
        return list(questions)
    picked = sorted(random.Random(seed).sample(range(len(questions)), n))
    return [questions[i] for i in picked]


def corpus_files(folder: Path) -> list[Path]:
    """The documents of a corpus folder, hidden entries left out, in a stable order."""
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def squad(shared: Path, n: int) -> Dataset:
    root = shared / "bench" / "squad"
    questions = dedupe(load_questions(root / "questions.jsonl"))
    picked = sample(questions, n)
    note = f"{len(picked):,} of {len(questions):,} distinct questions" + (
        f" (fixed seed {SEED})" if len(picked) < len(questions) else ""
    )
    return Dataset("squad", root / "corpus", picked, note)


def news(shared: Path) -> Dataset:
    questions = dedupe(load_questions(shared / "eval" / "news_dev.jsonl"))
    return Dataset("news", shared / "corpus" / "news", questions, f"all {len(questions)} questions")


def shrink(data: Dataset, files: int, questions: int, workdir: Path) -> Dataset:
    """A smoke-test copy: the first ``files`` documents (copied under ``workdir``) and questions about them."""
    chosen = corpus_files(data.corpus)[:files]
    target = workdir / f"{data.name}-subset"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in chosen:
        dest = target / path.relative_to(data.corpus)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    names = {p.name for p in chosen}
    about = [q for q in data.questions if not q["gold"] or any(g["source"] in names for g in q["gold"])]
    picked = sample(about, questions)
    return Dataset(data.name, target, picked, f"quick: the first {len(chosen)} files, {len(picked)} questions")

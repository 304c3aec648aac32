"""The benchmark corpora and their questions, read from ``../shared`` and never copied into the repository."""

from __future__ import annotations

import random
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citebot.index.evaluate import load_questions

SEED = 20240611  # fixed: every run with the same --squad-sample asks the same questions

# The documentation corpora of issue 10: name -> (folder under ``shared/corpus``, questions under ``shared/eval``).
# Each corpus is the ``docs/`` folder below its README, so the README itself is not indexed.
DOCS_CORPORA = {
    "pydantic": ("pydantic-docs", "docs_dev.jsonl"),
    "discordpy": ("discordpy-docs", "docs_dev_discordpy.jsonl"),
    "textual": ("textual-docs", "docs_dev_textual.jsonl"),
}
CORPORA = ("squad", "news", *DOCS_CORPORA)
# How the docs questions are labelled (``"style"``), in the order the report shows them; an empty gold is
# always ``unanswerable``.
STYLES = ("lexical", "paraphrase", "code", "unanswerable")


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


def question_files(shared: Path) -> dict[str, Path]:
    """Where each corpus's questions live: the file a run needs before it can start."""
    files = {"squad": shared / "bench" / "squad" / "questions.jsonl", "news": shared / "eval" / "news_dev.jsonl"}
    files.update({name: shared / "eval" / qfile for name, (_, qfile) in DOCS_CORPORA.items()})
    return files


def style_counts(questions: list[dict[str, Any]]) -> dict[str, int]:
    """Questions per ``style``, known styles first in report order; empty when no question has one."""
    seen = Counter(q["style"] for q in questions if q.get("style"))
    return {s: seen[s] for s in (*STYLES, *sorted(set(seen) - set(STYLES))) if seen[s]}


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


def docs(shared: Path, name: str) -> Dataset:
    """One documentation corpus of issue 10 with its dev questions, each labelled with a ``style``."""
    folder, qfile = DOCS_CORPORA[name]
    questions = dedupe(load_questions(shared / "eval" / qfile))
    styles = ", ".join(f"{s} {n}" for s, n in style_counts(questions).items())
    return Dataset(name, shared / "corpus" / folder / "docs", questions,
                   f"all {len(questions)} questions of `{qfile}` ({styles})")


def base_name(source: str) -> str:
    """A gold or hit source as the scorers compare it: the file name alone."""
    return source.replace("\\", "/").rsplit("/", 1)[-1]


def most_cited(data: Dataset, n: int) -> list[Path]:
    """The ``n`` documents the most gold lines point at (ties in file order): a small subset that still asks
    questions of every style."""
    cited = Counter(base_name(g["source"]) for q in data.questions for g in q["gold"])
    files = corpus_files(data.corpus)
    return sorted(sorted(files, key=lambda p: -cited[p.name])[:n])


def shrink(data: Dataset, files: int, questions: int, workdir: Path, pick: str = "first") -> Dataset:
    """A smoke-test copy: ``files`` documents (copied under ``workdir``) and questions about them.

    ``pick`` is ``first`` (the first files in order) or ``cited`` (the most-cited files, see ``most_cited``).
    Questions are matched to files by file name, as the scorers match hits to gold.
    """
    chosen = most_cited(data, files) if pick == "cited" else corpus_files(data.corpus)[:files]
    target = workdir / f"{data.name}-subset"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in chosen:
        dest = target / path.relative_to(data.corpus)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    names = {p.name for p in chosen}
    about = [q for q in data.questions if not q["gold"] or any(base_name(g["source"]) in names for g in q["gold"])]
    picked = sample(about, questions)
    which = "the most-cited" if pick == "cited" else "the first"
    return Dataset(data.name, target, picked, f"quick: {which} {len(chosen)} files, {len(picked)} questions")

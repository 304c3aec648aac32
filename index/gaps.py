"""The gaps report: the questions the documents answered badly, grouped by similar question, most frequent first.

Pure functions over plain records, so the bot's ``/gaps``, ``citebot gaps`` and the tests share one grouping.
A question is compared by its set of content words (``textproc.terms``: lower-cased, stop words out, English
stems), so "How do I install it?" and "how to install?" fall together while "install" and "uninstall" do not.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .textproc import terms

# Two questions belong together when their content-word sets share at least this share of their union
# (Jaccard). Chosen on the examples in tests/index/test_feedback.py: rewordings of one question score 0.5 to 1
# ("which port does the server use" / "what port is the server on": 2 of 3), different questions about the
# same topic score 0.33 or less ("install on windows" / "install on mac": 1 of 3).
SIMILAR = 0.5
SOURCES_SHOWN = 3  # cited files listed per group: the most cited ones; the CSV and JSON list them all


@dataclass(frozen=True)
class GapItem:
    """One answer that is a sign of a gap: abstained, given with a caution (``unsure``), voted 👎, or followed
    by "still need help?".

    ``question`` is None when the bot was not allowed to store question text.
    """

    question: str | None
    asked_at: float
    abstained: bool
    downvotes: int = 0
    needs_help: int = 0
    sources: tuple[str, ...] = ()
    unsure: bool = False  # answered with the caution that the documents may not answer (``Answer.tentative``)


@dataclass
class GapGroup:
    """Similar questions together; ``question`` is the most common wording (None: question text not stored)."""

    question: str | None
    count: int = 0
    abstained: int = 0
    downvotes: int = 0
    needs_help: int = 0
    unsure: int = 0
    last_asked: float = 0.0
    sources: list[str] = field(default_factory=list)  # most cited first
    wordings: Counter[str] = field(default_factory=Counter, repr=False)
    _terms: frozenset[str] = field(default=frozenset(), repr=False)
    _cited: Counter[str] = field(default_factory=Counter, repr=False)

    def to_json(self) -> dict[str, object]:
        return {
            "question": self.question, "count": self.count, "abstained": self.abstained,
            "downvotes": self.downvotes, "needs_help": self.needs_help, "unsure": self.unsure,
            "last_asked": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.last_asked)),
            "sources": self.sources, "wordings": len(self.wordings),
        }


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two word sets; two empty sets (questions of stop words only) are alike."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def group_gaps(items: Iterable[GapItem], threshold: float = SIMILAR) -> list[GapGroup]:
    """Group ``items`` by similar question, most frequent group first (then most recently asked).

    Greedy, in time order: each question joins the group whose first question's word set is most similar (at
    least ``threshold``), else starts a group. Comparing with the first question, not a growing union, keeps a
    group from drifting from topic to topic. Items without question text are grouped by the first file they
    cited (an abstention cites none: all of them make one group). Each question is compared only with the groups
    that share a word with it (``_TermIndex``).
    """
    groups: list[GapGroup] = []
    by_sources: dict[tuple[str, ...], GapGroup] = {}
    by_term = _TermIndex()
    for item in sorted(items, key=lambda i: i.asked_at):
        if item.question is None:
            key = item.sources[:1]
            group = by_sources.get(key)
            if group is None:
                group = by_sources[key] = GapGroup(None)
                groups.append(group)
        else:
            words = frozenset(terms(item.question))
            group = by_term.best(words, threshold)
            if group is None:
                group = GapGroup(item.question, _terms=words)
                groups.append(group)
                by_term.add(group)
        _add(group, item)
    for group in groups:
        if group.wordings:
            # The most common wording names the group; among equals the latest, as it reads as members ask now.
            group.question = max(reversed(group.wordings.items()), key=lambda kv: kv[1])[0]
        group.sources = [source for source, _ in group._cited.most_common()]
    groups.sort(key=lambda g: (-g.count, -g.last_asked))
    return groups


class _TermIndex:
    """Groups by the words of their first question, so a question is compared only with the groups that can
    reach the threshold: those sharing one of its rarest words (prefix filtering: a set ``a`` with Jaccard at
    least ``t`` to ``b`` shares at least ``t * |a|`` words with it, so ``b`` holds one of any
    ``|a| - ceil(t * |a|) + 1`` words of ``a``). A word in every question (the product's name) then costs
    nothing. 5,000 questions in 1,000 groups take 0.1 s on the machine of 2026-12-01 (5,000 of random words,
    the worst case: 0.6 s), where comparing each with every group took 4 s (17 s)."""

    def __init__(self) -> None:
        self._groups: list[GapGroup] = []
        self._postings: dict[str, list[int]] = defaultdict(list)  # word -> numbers of the groups using it
        self._wordless: int | None = None  # the group of questions made only of common words, if any

    def add(self, group: GapGroup) -> None:
        number = len(self._groups)
        self._groups.append(group)
        for word in group._terms:
            self._postings[word].append(number)
        if not group._terms and self._wordless is None:
            self._wordless = number

    def best(self, words: frozenset[str], threshold: float) -> GapGroup | None:
        """The most similar group (at least ``threshold``); among equals the oldest."""
        if not words:
            return self._groups[self._wordless] if self._wordless is not None else None
        rarest = sorted(words, key=lambda word: (len(self._postings.get(word, ())), word))
        prefix = len(words) - math.ceil(threshold * len(words) - 1e-9) + 1  # 1e-9: 0.5 * 4 stays 2, not 3
        candidates: set[int] = set()
        for word in rarest[: max(prefix, 1)]:
            candidates.update(self._postings.get(word, ()))
        best, best_score = None, threshold
        for number in sorted(candidates):
            theirs = self._groups[number]._terms
            both = len(words & theirs)
            score = both / (len(words) + len(theirs) - both)  # Jaccard; never 0/0: ``words`` is not empty
            if score >= best_score and (best is None or score > best_score):
                best, best_score = number, score
        return self._groups[best] if best is not None else None


def _add(group: GapGroup, item: GapItem) -> None:
    group.count += 1
    group.abstained += int(item.abstained)
    group.downvotes += item.downvotes
    group.needs_help += item.needs_help
    group.unsure += int(item.unsure)
    group.last_asked = max(group.last_asked, item.asked_at)
    group._cited.update(dict.fromkeys(item.sources, 1))  # once per answer, in the answer's order (ties keep it)
    if item.question is not None:
        # Counter keeps insertion order: re-inserted, the latest wording is last, and max() over the reversed
        # items keeps the first of equals, so the latest wins ties.
        wording = " ".join(item.question.split())
        group.wordings[wording] = group.wordings.pop(wording, 0) + 1


CSV_COLUMNS = ("question", "count", "abstained", "downvotes", "needs_help", "unsure", "last_asked", "sources")


def gaps_csv(groups: Sequence[GapGroup]) -> str:
    """The report as CSV (one row a group; sources separated by spaces), for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for group in groups:
        row = group.to_json()
        writer.writerow([row["question"] or "", row["count"], row["abstained"], row["downvotes"],
                         row["needs_help"], row["unsure"], row["last_asked"], " ".join(group.sources)])
    return out.getvalue()


def gaps_text(groups: Sequence[GapGroup], questions_stored: bool) -> str:
    """The report for a terminal: one block a group, most frequent first."""
    if not groups:
        return "No gaps recorded: no abstentions, no unsure answers, no 👎 votes, no requests for help."
    lines = []
    if not questions_stored and any(g.question is None for g in groups):
        lines.append(NOT_STORED + "\n")
    for number, group in enumerate(groups, 1):
        lines.append(f"{number}. {group.question or describe_unstored(group)}")
        lines.append(f"   {counts(group)}; last asked "
                     f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(group.last_asked))}")
        if group.sources:
            lines.append("   cites " + ", ".join(group.sources[:SOURCES_SHOWN])
                         + (f" and {len(group.sources) - SOURCES_SHOWN} more" if len(group.sources) > SOURCES_SHOWN
                            else ""))
    return "\n".join(lines)


NOT_STORED = ("Question text is not stored (CITEBOT_BOT_STORE_QUESTIONS is off): answers are grouped by the "
              "files they cited, and unanswered questions are only counted.")


def describe_unstored(group: GapGroup) -> str:
    """What stands for the question of a group whose question text was not stored."""
    if not group.sources:
        return "(questions not stored) unanswered questions"
    return f"(questions not stored) answers from {group.sources[0]}"


def counts(group: GapGroup) -> str:
    """``asked 4 times: 2 unanswered, 1 unsure, 1 👎, 1 still needed help``, leaving out the zeros."""
    parts = [f"{group.abstained} unanswered" if group.abstained else "",
             f"{group.unsure} unsure" if group.unsure else "",
             f"{group.downvotes} 👎" if group.downvotes else "",
             f"{group.needs_help} still needed help" if group.needs_help else ""]
    times = "once" if group.count == 1 else f"{group.count} times"
    shown = ", ".join(p for p in parts if p)
    return f"asked {times}" + (f": {shown}" if shown else "")

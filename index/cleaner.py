"""Decide which lines are content: drop page furniture and collapse lines repeated within a file.

Boilerplate is found by shape, not by words: a run of short, self-contained, title-like lines
(each starting a new thought, none ending a sentence, often list items) whose vocabulary barely
overlaps the rest of the document is a block of unrelated links or navigation. Tiny labels
("Related", a rating) next to such a block go with it. The rules hold for any web-scraped page
and leave wrapped prose alone, because wrapped prose continues lines in lower case and shares
its vocabulary with its document.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from .textproc import normalize_line, terms, words

_LIST_MARK = re.compile(r"^\s*(?:[-*+•·]|\d{1,3}[.)])\s+")
_SENTENCE_END = re.compile(r"[.!?…:;]['\"”’)\]]*\s*$")
MIN_BLOCK = 4  # title-like lines in a row before a block can count as furniture
MAX_TITLE_WORDS = 22
MAX_OVERLAP = 0.3  # share of the block's content words found elsewhere in the document
DEDUP_MIN_CHARS = 30  # shorter repeats (code braces, separators) are left alone


@dataclass
class Cleaned:
    """Per-line verdicts for one document (0-based indexes)."""

    keep: list[bool]
    boilerplate: list[tuple[int, int]] = field(default_factory=list)  # inclusive 0-based ranges
    duplicate_of: dict[int, int] = field(default_factory=dict)  # repeat -> first occurrence


def _title_like(line: str) -> bool:
    stripped = _LIST_MARK.sub("", line).strip()
    n = len(words(stripped))
    if n == 0 or n > MAX_TITLE_WORDS:
        return False
    if _LIST_MARK.match(line):
        return True
    first = stripped[0]
    starts_new = first.isupper() or first.isdigit() or first in "'\"“‘(["
    return starts_new and not _SENTENCE_END.search(stripped)


def _label(line: str) -> bool:
    """A line of at most three words: a section label, a rating, a menu entry."""
    return 0 < len(words(line)) <= 3


def find_boilerplate(lines: list[str], stops: Sequence[bool] | None = None) -> list[tuple[int, int]]:
    """Inclusive 0-based ranges of lines that are furniture rather than content.

    ``stops`` marks lines the document's structure says are not furniture (headings, code, markup): a run
    never includes one, so a section title followed by a short list is the section, not a link block.
    """
    n = len(lines)
    stop = list(stops) if stops is not None else [False] * n
    runs: list[tuple[int, int]] = []

    def furniture(k: int) -> bool:
        return not stop[k] and (_title_like(lines[k]) or _label(lines[k]))

    i = 0
    while i < n:
        if lines[i].strip() and furniture(i):
            j = i
            while j + 1 < n and not stop[j + 1] and (not lines[j + 1].strip() or furniture(j + 1)):
                j += 1
            runs.append((i, j))
            i = j + 1
        else:
            i += 1
    candidates = [(start, end, body) for start, end in runs
                  if len(body := [k for k in range(start, end + 1) if lines[k].strip() and not _label(lines[k])])
                  >= MIN_BLOCK]
    if not candidates:
        return []
    # Each line's terms once, and in how many lines each term occurs: a term occurs outside a run when it occurs
    # in more lines than the run's own. (Collecting the rest of the document's terms again for every run made
    # this quadratic: a third of the non-model indexing time on a reST docs folder, whose lists make many runs.)
    line_terms = [set(terms(line)) for line in lines]
    lines_with: Counter[str] = Counter(t for ts in line_terms for t in ts)
    with_terms = [0]  # with_terms[k]: how many of the first k lines have any term
    for ts in line_terms:
        with_terms.append(with_terms[-1] + bool(ts))
    blocks: list[tuple[int, int]] = []
    for start, end, body in candidates:
        block_terms = {t for k in body for t in line_terms[k]}
        in_run: Counter[str] = Counter(t for k in range(start, end + 1) for t in line_terms[k])
        rest_has_terms = with_terms[n] - (with_terms[end + 1] - with_terms[start]) > 0
        if not block_terms or not rest_has_terms:
            continue  # a document that is all list has nothing to compare against: keep it
        overlap = sum(1 for t in block_terms if lines_with[t] > in_run[t]) / len(block_terms)
        if overlap <= MAX_OVERLAP:
            blocks.append((start, end))
    return blocks


def clean(lines: list[str], drop_boilerplate: bool = True, stops: Sequence[bool] | None = None) -> Cleaned:
    """Verdicts for every line: blank, furniture and repeated lines are not embedded. ``stops``: lines that are
    structure (see ``find_boilerplate``)."""
    keep = [bool(line.strip()) for line in lines]
    blocks = find_boilerplate(lines, stops) if drop_boilerplate else []
    for start, end in blocks:
        for k in range(start, end + 1):
            keep[k] = False
    first_seen: dict[str, int] = {}
    duplicate_of: dict[int, int] = {}
    for k, line in enumerate(lines):
        if not keep[k] or len(line.strip()) < DEDUP_MIN_CHARS:
            continue
        key = normalize_line(line)
        if key in first_seen:
            duplicate_of[k] = first_seen[key]
            keep[k] = False
        else:
            first_seen[key] = k
    return Cleaned(keep, blocks, duplicate_of)

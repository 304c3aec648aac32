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
    blocks: list[tuple[int, int]] = []
    for start, end in runs:
        body = [k for k in range(start, end + 1) if lines[k].strip() and not _label(lines[k])]
        if len(body) < MIN_BLOCK:
            continue
        block_terms = {t for k in body for t in terms(lines[k])}
        rest_terms = {t for k in range(n) if not start <= k <= end for t in terms(lines[k])}
        if not block_terms or not rest_terms:
            continue  # a document that is all list has nothing to compare against: keep it
        overlap = len(block_terms & rest_terms) / len(block_terms)
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

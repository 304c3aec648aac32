"""How much of a chunk is prose: changelogs, indexes and link lists are lines of references, not explanations.

A release-notes file or a table of links has many short lines that each name a version, a date, an issue, a
person or a link, and little else; a chunk of them matches many questions by a word or two and answers none.
The score is decided by the shape of the lines alone (no file names, no words of one corpus), so it holds
on any folder: ``prose`` is the share of a chunk's countable lines that are not list-shaped, 0..1.
Code lines and markup are not counted (code is not a list); a chunk with nothing countable is all prose.
"""

from __future__ import annotations

import re

# Set by hand from the release notes and API indexes of the three docs corpora, not fitted on answers.
SHORT_LINE_WORDS = 8  # a line this short that names a version/date/issue/link reads as a list entry
# A one-line bullet of at most this many words is an entry of a list (a release note, a term), not an
# explanation: release-note entries in the corpora run 5-15 words, explanatory bullets wrap or run longer.
SHORT_ITEM_WORDS = 16
LINK_SHARE = 0.6  # a line whose characters are mostly link targets is a link list entry
REF_ENTRY_WORDS = 24  # a bullet naming an issue, a person or a version is a changelog entry up to this long

_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_URL = re.compile(r"https?://\S+|\]\([^)]*\)|<[^<>\s]+>")
_REFERENCE = re.compile(
    r"(?<![\w.])#\d+\b|(?<!\w)@[A-Za-z][\w-]+|https?://|\bv?\d+\.\d+(?:\.\d+)+\b|\bv\d+\.\d+\b|\b\d{4}-\d{2}-\d{2}\b"
    r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2},? \d{4}\b"
)
_WORD = re.compile(r"\w+")


def is_listy(text: str, heading: bool = False) -> bool:
    """Whether one line reads as an entry of a list (a release-note item, a version header, a link)."""
    stripped = text.strip()
    if not stripped:
        return False
    links = sum(len(m.group(0)) for m in _URL.finditer(stripped))
    if links >= LINK_SHARE * len(stripped):
        return True
    words = len(_WORD.findall(_URL.sub(" ", stripped)))
    item = bool(_LIST_ITEM.match(stripped))
    named = bool(_REFERENCE.search(stripped))
    if named and (heading or words <= SHORT_LINE_WORDS or (item and words <= REF_ENTRY_WORDS)):
        return True
    return item and words <= SHORT_ITEM_WORDS


def prose_score(lines: list[tuple[str, bool]]) -> float:
    """The share of (text, is_heading) lines that are not list-shaped; 1.0 when there is nothing to count.

    A heading counts only when it is list-shaped itself (a version header): an ordinary heading says
    nothing about whether its section is prose.
    """
    counted = listy = 0
    for text, heading in lines:
        entry = is_listy(text, heading)
        if heading and not entry:
            continue
        counted += 1
        listy += entry
    return 1.0 - listy / counted if counted else 1.0

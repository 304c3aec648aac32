"""How much of a chunk is prose: changelogs, indexes and link lists are lines of references, not explanations.

A release-notes file or a table of links has many short lines that each name a version, a date, an issue, a
person or a link, and little else; a chunk of them matches many questions by a word or two and answers none.
The score is decided by the shape of the lines alone (no file names, no words of one corpus), so it holds
on any folder: ``prose`` is the share of a chunk's countable lines that are not list-shaped, 0..1.
Code lines and markup are not counted (code is not a list); a chunk with nothing countable is all prose.

``prose`` is stored with each chunk and read by the reranker. ``release_note_share`` is narrower and read at
answer time (``search.RELEASE_NOTES``): only entries that name an issue, a person, a version or a date, or a
link, so that how-to steps and checklists are not taken for a changelog; a wrapped entry counts whole.
``is_release_title`` reads a page's title: a page about one release ("What's new in Celery 4.0") is written as
prose, so its lines read as explanations, but it tells what changed then, not how things work now.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

# Set by hand from the release notes and API indexes of the three docs corpora, not fitted on answers.
SHORT_LINE_WORDS = 8  # a line this short that names a version/date/issue/link reads as a list entry
# A one-line bullet of at most this many words is an entry of a list (a release note, a term), not an
# explanation: release-note entries in the corpora run 5-15 words, explanatory bullets wrap or run longer.
SHORT_ITEM_WORDS = 16
LINK_SHARE = 0.6  # a line whose characters are mostly link targets is a link list entry
REF_ENTRY_WORDS = 24  # a bullet naming an issue, a person or a version is a changelog entry up to this long
# A list item that names an issue or a person (#123, @name) is one release note however it is wrapped: all its
# lines are entries, up to this many words in all. Sphinx's changelog wraps an entry over two to six lines
# ("* #12888: Add a warning when ... / and ensure ... / Patch by ...", up to about 60 words) and pytest's writes
# one on a single long line; line by line, only the first line of each read as an entry. 80 leaves room above the
# longest entries seen; an explanation that cites an issue runs longer.
REF_ITEM_WORDS = 80

_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_URL = re.compile(r"https?://\S+|\]\([^)]*\)|<[^<>\s]+>")
_ISSUE_OR_PERSON_PATTERN = r"(?<![\w.])#\d+\b|(?<!\w)@[A-Za-z][\w-]+"  # #123, @name
_ISSUE_OR_PERSON = re.compile(_ISSUE_OR_PERSON_PATTERN)
_REFERENCE = re.compile(  # an issue or a person, a link, a version, a date
    _ISSUE_OR_PERSON_PATTERN + r"|https?://|\bv?\d+\.\d+(?:\.\d+)+\b|\bv\d+\.\d+\b|\b\d{4}-\d{2}-\d{2}\b"
    r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2},? \d{4}\b"
)
_WORD = re.compile(r"\w+")
# A release page's title names a version and says it is about a release ("Django 1.5 release notes", "What's
# new in Celery 4.0", "Change history for Celery 1.0", "pytest-2.7.0: fixes, features, speed improvements"), or
# is a name and a version and nothing else ("pytest-5.1.2"). A migration guide ("Migrating to v2.0") is not
# one: it is how to do things now. Read from the release pages of Django's, Celery's and pytest's docs.
_VERSION = re.compile(r"(?<![\w.])[vV]?\d+(?:\.\d+)+(?![\w.])")
_RELEASE_WORDS = re.compile(
    r"(?i)\b(?:releases?|released|what'?s new|new in|change ?logs?|changes|change history|history|announcing|"
    r"announcement|news|fixes)\b"
)
_NAME_AND_VERSION = re.compile(r"^[\w.-]*?[\s-]*[vV]?\d+(?:\.\d+)+\s*(?:\(.*\))?$")
# A question that asks about releases itself names a version or one of these ("what changed in 5.0", "when was
# this added", "is it in the changelog"): release notes are then answers like any other.
_ASKS_ABOUT_RELEASES = re.compile(
    r"(?i)\b(?:releases?|released|what'?s new|change ?logs?|changed in|added in|removed in|since version)\b"
)


def is_listy(text: str, heading: bool = False) -> bool:
    """Whether one line reads as an entry of a list (a release-note item, a version header, a link, or a
    short bullet that names nothing: a term of an index)."""
    if is_note(text, heading):
        return True
    stripped = text.strip()
    return bool(_LIST_ITEM.match(stripped)) and _words(stripped) <= SHORT_ITEM_WORDS


def _words(text: str) -> int:
    """Words of a line, link targets left out."""
    return len(_WORD.findall(_URL.sub(" ", text)))


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


def is_note(text: str, heading: bool = False) -> bool:
    """Whether one line is a release note's (or an index's) entry: it names an issue, a person, a version or a
    date as a short line, a list entry or a heading (a version header), or it is mostly a link. Unlike
    ``is_listy``, a short bullet that names nothing is not one: how-to steps and migration checklists are lists
    of explanations."""
    stripped = text.strip()
    if not stripped:
        return False
    links = sum(len(m.group(0)) for m in _URL.finditer(stripped))
    if links >= LINK_SHARE * len(stripped):
        return True
    if not _REFERENCE.search(stripped):
        return False
    words = _words(stripped)
    return heading or words <= SHORT_LINE_WORDS or (bool(_LIST_ITEM.match(stripped)) and words <= REF_ENTRY_WORDS)


def release_note_share(
    lines: Sequence[str], numbers: Sequence[int], markup: Collection[int], code: Sequence[bool]
) -> float:
    """The share of a stored passage's countable lines that are release-note entries (``is_note``), 0..1.

    ``numbers`` are the lines' numbers in the file, ``markup`` the indices of its markup and headings, ``code``
    which lines are shaped like code. A line right below a list item (the next line number, no blank line
    between: the reader text keeps no indentation) continues it, and an item that names an issue or a person is
    an entry over all its lines. Markup and headings count only when they are entries themselves (version
    headers); code-shaped lines other than list items are not counted (a stored passage does not mark its
    code-block lines; an entry quoting ``code`` is still an entry).
    """
    entries: dict[int, bool] = {}  # per counted line: whether it is an entry
    items: list[list[int]] = []
    for i, text in enumerate(lines):
        item = bool(_LIST_ITEM.match(text))
        if i in markup:
            if is_note(text, heading=True):
                entries[i] = True
            continue
        if code[i] and not item:
            continue
        entries[i] = is_note(text)
        if item:
            items.append([i])
        elif items and items[-1][-1] == i - 1 and numbers[i] - numbers[i - 1] in (0, 1):  # 0: a long line's pieces
            items[-1].append(i)
    for members in items:
        text = " ".join(lines[i] for i in members)
        if _ISSUE_OR_PERSON.search(text) and _words(text) <= REF_ITEM_WORDS:
            for i in members:
                entries[i] = True
    return sum(entries.values()) / len(entries) if entries else 0.0


def is_release_title(title: str) -> bool:
    """Whether a page's title says the page is about one release (``_RELEASE_WORDS`` with a version)."""
    title = title.strip()
    return bool(_VERSION.search(title)) and bool(_RELEASE_WORDS.search(title) or _NAME_AND_VERSION.match(title))


def asks_about_releases(question: str) -> bool:
    """Whether a question is about a version or a release, so that release notes may answer it first."""
    return bool(_VERSION.search(question) or _ASKS_ABOUT_RELEASES.search(question))

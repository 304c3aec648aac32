"""Cross-references between a folder's pages: the title Sphinx shows for ``:ref:`label``` and ``:doc:`page```.

Sphinx shows a bare ``:ref:`install``` as the title of the section the label ``.. _install:`` marks, and a bare
``:doc:`/topics/http/urls``` as the title of that page; either may live on another page, which a page read
alone cannot know. So the indexer first gathers every page's targets (each format finds its own:
``formats.targets``) into one ``Titles``, then reads each page inside ``reading``, where the roles look their
titles up. What a page looked up is kept with it in the manifest (``state.FileEntry.refs``): when a title it
shows changes on another page, or a label it names appears or goes, the page is read again (``stale``).

Nothing here reads a file or knows a format; a page read outside ``reading`` (a test, a script) shows labels
as their words, as before.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Targets:
    """What one page offers to references: its title (its first section's) and the labels it defines, each
    with the title of the section it marks."""

    title: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


def label_key(label: str) -> str:
    """A label as Sphinx compares them: case and runs of spaces do not count."""
    return _SPACES.sub(" ", label.strip()).lower()


def page_name(source: str) -> str:
    """A page's name as ``:doc:`` names it: its path in the folder without its suffix."""
    stem, _ = posixpath.splitext(source)
    return stem


@dataclass(frozen=True)
class Titles:
    """Every page's title by name and every label's title, over one folder (the first page, by path, that
    defines a label wins, as Sphinx keeps the first and warns of the rest)."""

    pages: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, targets: Iterable[tuple[str, Targets]]) -> Titles:
        pages: dict[str, str] = {}
        labels: dict[str, str] = {}
        for source, found in sorted(targets, key=lambda st: st[0]):
            if found.title:
                pages.setdefault(page_name(source), found.title)
            for label, title in found.labels.items():
                labels.setdefault(label_key(label), title)
        return cls(pages, labels)

    def lookup(self, key: str) -> str:
        """The title a reference key (``reference_key``) shows; "" when the folder has none."""
        kind, _, name = key.partition(":")
        return (self.labels if kind == "ref" else self.pages).get(name, "")


@dataclass
class _Reading:
    source: str
    titles: Titles
    looked_up: dict[str, str]


_READING: ContextVar[_Reading | None] = ContextVar("citebot_xref_reading", default=None)


@contextmanager
def reading(source: str, titles: Titles) -> Iterator[dict[str, str]]:
    """Read the page ``source`` with the folder's ``titles``: references inside resolve to them. Yields the
    references the page looked up (key -> the title shown, "" for none), filled in as it is read.

    A context variable rather than an argument: a title is looked up deep inside every format's inline
    reading (reST, MyST's roles, reST inside MyST), which has no other reason to know about the folder."""
    looked_up: dict[str, str] = {}
    token = _READING.set(_Reading(source, titles, looked_up))
    try:
        yield looked_up
    finally:
        _READING.reset(token)


def reference_key(role: str, target: str, source: str) -> str:
    """The key of ``:role:`target``` (``ref`` or ``doc``) read on page ``source``: a label as compared, a page
    by its name from the folder's root ("/topics/urls", or relative to ``source``'s folder)."""
    if role == "ref":
        return f"ref:{label_key(target)}"
    name = target.strip()
    name = name.lstrip("/") if name.startswith("/") else posixpath.join(posixpath.dirname(source), name)
    return f"doc:{posixpath.normpath(name) if name else ''}"  # "releases/1.0" names a page: no suffix to take


def title_for(role: str, target: str) -> str:
    """The title a bare ``:ref:`` or ``:doc:`` shows on the page being read, or "" (outside ``reading``, or
    when the folder has no such target: the caller shows the target's own words)."""
    now = _READING.get()
    if now is None:
        return ""
    key = reference_key(role, target, now.source)
    title = now.looked_up[key] = now.titles.lookup(key)
    return title


def stale(looked_up: Mapping[str, str], titles: Titles) -> bool:
    """Whether a page read with these references would read differently with ``titles``: a title it showed
    changed, or a reference that had none now has one (or lost it)."""
    return any(titles.lookup(key) != shown for key, shown in looked_up.items())

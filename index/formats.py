"""Which reader a file gets: its format, by its name, and plain lines when none (or its parser fails).

The one place that knows every format module; each of them knows only ``structure`` (the per-line facts),
so the formats never import one another through here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from . import asciidoc, code, html, markdown, notebook, rst
from .structure import PLAIN, LineInfo

log = logging.getLogger(__name__)


TEXT_SUFFIX = ".txt"
# A ".txt" is read as reST or AsciiDoc when at least this many of its lines are written as only that format
# writes them (``rst.SIGNATURE``, ``asciidoc.SIGNATURE``) and more than of the other's: Django's docs are reST
# in ".txt" files, git's manual pages (before 2.46) AsciiDoc. Two, not one, so that a plain note quoting a
# single ".. note::" stays plain; a real page writes dozens (Django's sessions page 317, git-commit.txt 92).
# One is enough in a file with an underlined title, which both write and plain notes seldom do (Django's
# shortest release notes, a title and one ":doc:" role).
TEXT_MARKERS = 2


def sniffed(lines: Sequence[str]) -> str:
    """Which markup a ``.txt`` file is written in by its lines: "rst", "asciidoc" or "" (plain text)."""
    counts = {kind: sum(1 for line in lines if signature.search(line))
              for kind, signature in (("rst", rst.SIGNATURE), ("asciidoc", asciidoc.SIGNATURE))}
    (best, most), (_, other) = sorted(counts.items(), key=lambda kv: -kv[1])
    titled = any(title.strip() and rst.is_adornment(under) and abs(len(under.strip()) - len(title.strip()))
                 <= asciidoc.UNDERLINE_SLACK for title, under in zip(lines, lines[1:], strict=False))
    return best if most >= (1 if titled else TEXT_MARKERS) and most > other else ""


def line_structure(source: str, lines: Sequence[str]) -> list[LineInfo]:
    """Per-line structure of ``lines``, read by the format the file's name says (a ``.txt`` by the markup its
    lines are written in, ``sniffed``); plain for unknown kinds.

    A parser that fails on a file (it never should, but files are untrusted) leaves it plain rather than
    losing it: plain lines still index and cite correctly.
    """
    name = source.lower()
    readers: tuple[tuple[Callable[[str], bool], Callable[[Sequence[str]], list[LineInfo]]], ...] = (
        (markdown.is_markdown, markdown.markdown_structure),
        (rst.is_rst, rst.rst_structure),
        (html.is_html, html.html_structure),
        (asciidoc.is_asciidoc, asciidoc.asciidoc_structure),
        (notebook.is_notebook, notebook.notebook_structure),
        (code.is_code, lambda ls: code.code_structure(name, ls)),
    )
    by_markup = {"rst": rst.rst_structure, "asciidoc": asciidoc.asciidoc_structure}
    kind = sniffed(lines) if name.endswith(TEXT_SUFFIX) else ""
    structure = by_markup[kind] if kind else next((s for reads, s in readers if reads(name)), None)
    if structure is None:
        return [PLAIN] * len(lines)
    try:
        infos = structure(lines)
    except Exception as exc:  # noqa: BLE001 - any parser failure means "read it as plain text"
        log.debug("%s: read as plain text (%s: %s)", source, type(exc).__name__, exc)
        return [PLAIN] * len(lines)
    return infos if len(infos) == len(lines) else [PLAIN] * len(lines)

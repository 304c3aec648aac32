"""Which reader a file gets: its format, by its name, and plain lines when none (or its parser fails).

The one place that knows every format module; each of them knows only ``structure`` (the per-line facts),
so the formats never import one another through here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from . import asciidoc, code, html, markdown, notebook, rst, xref
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


def reader_kind(source: str, lines: Sequence[str]) -> str:
    """Which reader a file gets: "markdown", "rst", "html", "asciidoc", "notebook", "code", or "" (plain
    lines), by the file's name, and a ``.txt`` by the markup its lines are written in (``sniffed``)."""
    name = source.lower()
    kind = sniffed(lines) if name.endswith(TEXT_SUFFIX) else ""
    return kind or next((kind for kind, reads in _NAMED if reads(name)), "")


_NAMED: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("markdown", markdown.is_markdown), ("rst", rst.is_rst), ("html", html.is_html),
    ("asciidoc", asciidoc.is_asciidoc), ("notebook", notebook.is_notebook), ("code", code.is_code),
)


def line_structure(source: str, lines: Sequence[str]) -> list[LineInfo]:
    """Per-line structure of ``lines``, read by the format ``reader_kind`` says; plain for unknown kinds.

    A parser that fails on a file (it never should, but files are untrusted) leaves it plain rather than
    losing it: plain lines still index and cite correctly.
    """
    readers: dict[str, Callable[[Sequence[str]], list[LineInfo]]] = {
        "markdown": markdown.markdown_structure, "rst": rst.rst_structure, "html": html.html_structure,
        "asciidoc": asciidoc.asciidoc_structure, "notebook": notebook.notebook_structure,
        "code": lambda ls: code.code_structure(source.lower(), ls),
    }
    structure = readers.get(reader_kind(source, lines))
    if structure is None:
        return [PLAIN] * len(lines)
    try:
        infos = structure(lines)
    except Exception as exc:  # noqa: BLE001 - any parser failure means "read it as plain text"
        log.debug("%s: read as plain text (%s: %s)", source, type(exc).__name__, exc)
        return [PLAIN] * len(lines)
    return infos if len(infos) == len(lines) else [PLAIN] * len(lines)


def targets(source: str, lines: Sequence[str]) -> xref.Targets:
    """What ``source`` offers to the folder's cross-references (its title, the sections its labels mark):
    reST's and MyST Markdown's, the formats whose roles name them; nothing for other formats, or when the
    file cannot be read."""
    found = {"rst": rst.targets, "markdown": markdown.targets}.get(reader_kind(source, lines))
    if found is None:
        return xref.Targets()
    try:
        return found(lines)
    except Exception as exc:  # noqa: BLE001 - as line_structure: an unreadable file offers no targets
        log.debug("%s: no cross-reference targets (%s: %s)", source, type(exc).__name__, exc)
        return xref.Targets()

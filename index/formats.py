"""Which reader a file gets: its format, by its name, and plain lines when none (or its parser fails).

The one place that knows every format module; each of them knows only ``structure`` (the per-line facts),
so the formats never import one another through here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from . import asciidoc, code, html, markdown, notebook, rst
from .structure import PLAIN, LineInfo

log = logging.getLogger(__name__)


def line_structure(source: str, lines: Sequence[str]) -> list[LineInfo]:
    """Per-line structure of ``lines``, read by the format the file's name says; plain for unknown kinds.

    A parser that fails on a file (it never should, but files are untrusted) leaves it plain rather than
    losing it: plain lines still index and cite correctly.
    """
    name = source.lower()
    for reads, structure in (
        (markdown.is_markdown, markdown.markdown_structure),
        (rst.is_rst, rst.rst_structure),
        (html.is_html, html.html_structure),
        (asciidoc.is_asciidoc, asciidoc.asciidoc_structure),
        (notebook.is_notebook, notebook.notebook_structure),
        (code.is_code, lambda ls: code.code_structure(name, ls)),
    ):
        if reads(name):
            try:
                infos = structure(lines)
            except Exception as exc:  # noqa: BLE001 - any parser failure means "read it as plain text"
                log.debug("%s: read as plain text (%s: %s)", source, type(exc).__name__, exc)
                return [PLAIN] * len(lines)
            return infos if len(infos) == len(lines) else [PLAIN] * len(lines)
    return [PLAIN] * len(lines)

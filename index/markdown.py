"""What each line of a Markdown file is, as a CommonMark renderer reads it.

The chunker needs, per line: the heading path above it (``Title > Section``), whether the line is
part of a heading (an ATX ``## Title`` line, or a setext title line and its ``===``/``---``
underline), which code block holds it (fenced or indented), and whether it is YAML front matter.
A regular expression cannot tell a ``# comment`` inside a code fence from a heading, so the file is
parsed with markdown-it-py, whose block tokens carry 0-based ``[start, end)`` line ranges.

Only top-level headings make sections: a heading quoted in a blockquote or written inside a list
item belongs to that quote or item, not to the document's outline. Files that are not Markdown get
no structure at all (reStructuredText headings are a later step).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

MARKDOWN_SUFFIXES = (".md", ".markdown")
PATH_SEPARATOR = " > "


@dataclass(frozen=True)
class LineInfo:
    """The structure of one line (the line ``i + 1`` of the file is ``infos[i]``)."""

    heading: str = ""  # heading path above and including this line, outermost first
    is_heading: bool = False  # an ATX heading line, a setext title line or its underline
    code_block: int | None = None  # which code block (counted from 0) holds this line, fences included
    front_matter: bool = False  # YAML between ``---`` lines at the very top of the file


PLAIN = LineInfo()


def is_markdown(source: str) -> bool:
    """Whether a file is read as Markdown, by its name (as the loader found it)."""
    return source.lower().endswith(MARKDOWN_SUFFIXES)


def line_structure(source: str, lines: Sequence[str]) -> list[LineInfo]:
    """Per-line structure of ``lines``: parsed for Markdown files, plain for every other kind."""
    return markdown_structure(lines) if is_markdown(source) else [PLAIN] * len(lines)


@lru_cache(maxsize=1)
def _parsers() -> tuple[MarkdownIt, MarkdownIt]:
    """A block parser for whole files and a full one for heading text, built once: parsing keeps its
    state per call, so the instances can be shared. Only headings need their inline markup read, and
    skipping it for every other block makes a file parse about four times faster."""
    full = MarkdownIt("commonmark").use(front_matter_plugin)
    blocks = MarkdownIt("commonmark").use(front_matter_plugin).disable(["inline", "text_join"])
    return blocks, full


def _words(tokens: Sequence[Token]) -> Iterator[str]:
    for token in tokens:
        if token.type in ("text", "code_inline"):
            yield token.content
        elif token.type in ("softbreak", "hardbreak"):
            yield " "
        elif token.children:  # an image: its alt text
            yield from _words(token.children)


def _plain_text(markup: str) -> str:
    """A heading's words as a reader sees them: emphasis, link and HTML marks dropped, breaks as spaces."""
    inline = _parsers()[1].parseInline(markup)
    return " ".join("".join(_words([c for token in inline for c in token.children or []])).split())


def markdown_structure(lines: Sequence[str]) -> list[LineInfo]:
    """Per-line structure of a Markdown document given as its lines (``lines[i]`` is line ``i + 1``)."""
    n = len(lines)
    # markdown-it reads "\n"-joined text; a stray CR would count as one more line break, so it is blanked.
    text = "\n".join(line.replace("\r", " ").replace("\n", " ") for line in lines)
    tokens = _parsers()[0].parse(text)
    is_heading = [False] * n
    code_block: list[int | None] = [None] * n
    front_matter = [False] * n
    starts: list[tuple[int, int, str]] = []  # (first line, level, text) of each top-level heading
    blocks = 0
    for i, token in enumerate(tokens):
        if token.map is None:
            continue
        start, end = token.map[0], min(token.map[1], n)
        if token.type == "heading_open" and token.level == 0:
            for k in range(start, end):
                is_heading[k] = True
            starts.append((start, int(token.tag[1:]), _plain_text(tokens[i + 1].content)))
        elif token.type in ("fence", "code_block"):
            for k in range(start, end):
                code_block[k] = blocks
            blocks += 1
        elif token.type == "front_matter":
            for k in range(start, end):
                front_matter[k] = True
    headings = [""] * n  # lines above the first heading (front matter included) have no path
    stack: list[tuple[int, str]] = []
    for (start, level, title), stop in zip(starts, [s for s, _, _ in starts[1:]] + [n]):
        # A heading closes every open section at its level or deeper; an empty one ("#") names nothing.
        stack = [(lvl, t) for lvl, t in stack if lvl < level] + [(level, title)]
        headings[start:stop] = [PATH_SEPARATOR.join(t for _, t in stack if t)] * (stop - start)
    return [LineInfo(*facts) for facts in zip(headings, is_heading, code_block, front_matter, strict=True)]

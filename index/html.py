"""What each line of an HTML file is: the text a browser shows on it, headings, ``<pre>`` code, hidden parts.

The standard library's HTML parser reports where every tag and every run of text starts (line and column),
so each piece of text is put back on the line of the file it came from: a citation still points at the
file's own lines. What a page never shows as content is hidden: scripts, styles, templates and the page's
furniture (``<nav>``, ``<header>``, ``<footer>``, ``<aside>``, ``<head>``, and what generated sites mark as
such: navigation roles, permalink anchors, ``hidden`` and ``aria-hidden`` elements), and lines that hold only
tags.
Headings (``<h1>``..``<h6>``) make heading paths exactly as Markdown's do; ``<pre>`` is a code block.
"""

from __future__ import annotations

from collections.abc import Sequence
from html.parser import HTMLParser

from .structure import LineInfo, heading_paths

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
HIDDEN_TAGS = frozenset({"script", "style", "template", "noscript", "head", "nav", "header", "footer", "aside",
                         "svg", "button", "select", "iframe"})
# Generated pages mark their furniture with attributes as often as with tags: Sphinx's sidebar and related
# links are <div role="navigation">, permalinks beside headings are <a class="headerlink">¶</a> (Sphinx,
# MkDocs), "hash-link" (Docusaurus), "header-anchor" (VitePress) or aria-hidden icons.
HIDDEN_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "complementary"})
HIDDEN_CLASSES = frozenset({"headerlink", "hash-link", "header-anchor", "anchor-link", "anchorjs-link",
                            "sphinxsidebar", "related", "breadcrumbs", "toc", "skip-link"})
HEADING_TAGS = {f"h{level}": level for level in range(1, 7)}
# Elements that start a new block: their text never runs into the text before them ("<h2>Use</h2><p>Ask").
BLOCK_TAGS = frozenset({"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "table", "tr", "td", "th", "br", "section",
                        "article", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr", "main"})
VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                       "track", "wbr"})


def is_html(source: str) -> bool:
    """Whether a file is read as HTML, by its name."""
    return source.lower().endswith(HTML_SUFFIXES)


def _hides(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    """Whether an element is never shown as the page's content, by its tag or its attributes."""
    if tag in HIDDEN_TAGS:
        return True
    for name, value in attrs:
        if name == "hidden" or (name, value) == ("aria-hidden", "true") or (name == "role" and value in HIDDEN_ROLES):
            return True
        if name == "class" and value and not HIDDEN_CLASSES.isdisjoint(value.split()):
            return True
    return False


class _Reader(HTMLParser):
    """Collects, per 0-based line, the visible text, and where headings and ``<pre>`` blocks start and end."""

    def __init__(self, n: int) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[list[str]] = [[] for _ in range(n)]
        self.hidden = 0  # depth inside hidden elements
        self.open: list[tuple[str, bool]] = []  # each open element's tag, and whether it hides its content
        self.pre: list[tuple[int, int]] = []  # (first, last) 0-based lines of each <pre>
        self.pre_start = -1
        self.headings: list[tuple[int, int, int, str]] = []  # (first, last, level, title)
        self.heading: tuple[int, int, list[str]] | None = None  # the open heading: first line, level, words

    def _line(self) -> int:
        return self.getpos()[0] - 1

    def _break(self, tag: str) -> None:
        line = self._line()
        if tag in BLOCK_TAGS and not self.hidden and 0 <= line < len(self.parts) and self.pre_start < 0:
            self.parts[line].append(" ")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)
        if tag in VOID_TAGS:
            return
        hides = _hides(tag, attrs)
        self.open.append((tag, hides))
        if hides:
            self.hidden += 1
        elif self.hidden:
            return
        elif tag == "pre" and self.pre_start < 0:
            self.pre_start = self._line()
        elif tag in HEADING_TAGS and self.heading is None:
            self.heading = (self._line(), HEADING_TAGS[tag], [])

    def handle_endtag(self, tag: str) -> None:
        self._break(tag)
        if all(t != tag for t, _ in self.open):
            return  # a stray end tag closes nothing
        while self.open:  # an end tag closes every element left open inside it
            closed, hid = self.open.pop()
            if hid:
                self.hidden -= 1
            elif closed == "pre" and self.pre_start >= 0 and not self.hidden:
                self.pre.append((self.pre_start, self._line()))
                self.pre_start = -1
            elif closed in HEADING_TAGS and self.heading is not None and not self.hidden:
                first, level, words = self.heading
                self.headings.append((first, self._line(), level, " ".join("".join(words).split())))
                self.heading = None
            if closed == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        line = self._line()
        for offset, piece in enumerate(data.split("\n")):
            if 0 <= line + offset < len(self.parts):
                self.parts[line + offset].append(piece)
        if self.heading is not None:
            self.heading[2].append(data)


def html_structure(lines: Sequence[str]) -> list[LineInfo]:
    """Per-line structure of an HTML document given as its lines (``lines[i]`` is line ``i + 1``)."""
    n = len(lines)
    reader = _Reader(n)
    reader.feed("\n".join(line.replace("\r", " ") for line in lines))
    reader.close()
    code_block: list[int | None] = [None] * n
    for block, (first, last) in enumerate(reader.pre):
        for k in range(first, min(last + 1, n)):
            code_block[k] = block
    is_heading = [False] * n
    for first, last, _, _ in reader.headings:
        for k in range(first, min(last + 1, n)):
            is_heading[k] = True
    paths = heading_paths([(first, level, title) for first, _, level, title in reader.headings], n)
    infos = []
    for k, line in enumerate(lines):
        shown = "".join(reader.parts[k])
        if code_block[k] is None:
            shown = " ".join(shown.split())
        elif not shown.strip():
            shown = ""
        text = None if shown == line else shown
        infos.append(LineInfo(paths[k], is_heading[k], code_block[k], False, bool(line.strip()) and not shown.strip(),
                              text))
    return infos

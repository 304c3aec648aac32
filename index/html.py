"""What each line of an HTML file is: the text a browser shows on it, headings, ``<pre>`` code, hidden parts.

The standard library's HTML parser reports where every tag and every run of text starts (line and column),
so each piece of text is put back on the line of the file it came from: a citation still points at the
file's own lines. What a page never shows as content is hidden: scripts, styles, templates and the page's
furniture (``<nav>``, ``<header>``, ``<footer>``, ``<aside>``, ``<head>``, and what generated sites mark as
such: navigation roles, permalink anchors, ``hidden`` and ``aria-hidden`` elements), and lines that hold only
tags.
Headings (``<h1>``..``<h6>``) make heading paths exactly as Markdown's do, and an API object as Sphinx builds it
(``<dl class="py function">``) adds its name below them, as reST's do; ``<pre>`` is a code block; an admonition's
title is markup, a label shown as context.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

from .structure import LineInfo, heading_paths, with_objects

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
HIDDEN_TAGS = frozenset({"script", "style", "template", "noscript", "head", "nav", "header", "footer", "aside",
                         "svg", "button", "select", "iframe", "dialog", "form"})
# Generated pages mark their furniture with attributes as often as with tags: Sphinx's sidebar and related
# links are <div role="navigation">, permalinks beside headings are <a class="headerlink">¶</a> (Sphinx,
# MkDocs), "hash-link" (Docusaurus), "header-anchor" (VitePress) or aria-hidden icons. Sphinx's classic and
# Alabaster themes put the copyright and "Created using Sphinx" in <div class="footer">, not <footer>. Text only a
# screen reader reads ("Hide navigation sidebar", "Toggle table of contents sidebar" in Furo) is the theme's
# labels for its buttons, never the page's words: "visually-hidden" (Furo, Bootstrap 5), "sr-only" (Bootstrap 3
# and 4, Tailwind), "screen-reader-text" (WordPress themes). Seen on the HTML docs Debian ships (python3.11-doc,
# python-bidict-doc, python-black-doc), where they were indexed as text before. Pygments' line-number gutter
# (<td class="linenos">, <span class="linenos">, in Sphinx and MkDocs with line numbers on) is not the code: read,
# its numbers ran into the code's first line ("3```python"). MkDocs Material's "Skip to content" is "md-skip".
# The PyData theme (and the Book theme built on it) marks its sidebars "bd-sidebar" and "bd-sidebar-secondary"
# ("On this page", "Show Source"), the download buttons above the article "article-header-buttons", and a copy of
# the page's contents for printing "onlyprint"; its search box is a <dialog> ("Ctrl+K"), and a <form> on its
# search page. A live form is a site's widget (search, "Was this page helpful?"): a page that documents a form
# shows its markup as code. mdBook's top bar, "menu-bar", holds its theme list, print and repository buttons and
# the book's title as an <h1> on every page ("The Rust Programming Language" was each chapter's first heading);
# its "boring" lines are those of a Rust example the page hides until the reader asks ("fn main() {" around
# the lines shown). Seen on the books Debian's rust-doc ships.
HIDDEN_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "complementary"})
HIDDEN_CLASSES = frozenset({"headerlink", "hash-link", "header-anchor", "anchor-link", "anchorjs-link",
                            "sphinxsidebar", "related", "breadcrumbs", "toc", "skip-link", "skip-to-content",
                            "md-skip", "skip-nav", "back-to-top", "footer", "visually-hidden", "sr-only",
                            "screen-reader-text", "linenos", "linenodiv", "bd-sidebar", "bd-sidebar-secondary",
                            "article-header-buttons", "onlyprint", "menu-bar", "boring"})
HEADING_TAGS = {f"h{level}": level for level in range(1, 7)}
# Sphinx builds an API object (``.. function:: dump(obj, fp)``, autodoc's classes and methods) as
# <dl class="py function"><dt class="sig sig-object py">signature</dt><dd>body</dd></dl>. As in reST (rst.py),
# the signature heads the body and the object's name joins the heading path of every line of the <dl>, so a
# question naming ``json.dump`` finds the paragraphs that explain it. Sphinx 4 and later mark the signature
# with the class "sig"; older Sphinx only the <dl>, with its domain first ("py method", "c function").
SIGNATURE_CLASS = "sig"
API_DOMAINS = frozenset({"py", "c", "cpp", "js", "rst", "std"})
# Words before an object's name in its signature ("class json.JSONDecoder(...)", "int PyObject_Print(...)"):
# the name is the last identifier before the arguments, a type annotation or a default; a command-line
# option keeps its dashes ("-h, --help" names ``--help``).
_SIGNATURE_HEAD = re.compile(r"[(:=\[]")
_IDENTIFIER = re.compile(r"-{0,2}[A-Za-z_][\w.-]*")
# An admonition's title (<p class="admonition-title">Note</p>: Sphinx, MkDocs) is shown, but as the label of the
# box, like Markdown's "!!! note" (markdown.py): context, never the answering line.
TITLE_CLASS = "admonition-title"
# Elements that start a new block: their text never runs into the text before them ("<h2>Use</h2><p>Ask").
BLOCK_TAGS = frozenset({"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "table", "tr", "td", "th", "br", "section",
                        "article", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr", "main"})
VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                       "track", "wbr"})


def is_html(source: str) -> bool:
    """Whether a file is read as HTML, by its name."""
    return source.lower().endswith(HTML_SUFFIXES)


@dataclass(frozen=True)
class Head:
    """What a page's head says of the page itself, beyond its content."""

    robots: frozenset[str]  # what it asks of search engines (<meta name="robots">): "noindex", "nofollow", ...
    redirect: str  # where it sends the reader at once (<meta http-equiv="refresh" content="0; url=...">), or ""


# A refresh's content: a delay, then the address ("0; url=new/", "0;URL='new.html'"). One without an address
# reloads the page itself (a live dashboard), which is no redirect.
_REFRESH = re.compile(r"^\s*\d+(?:\.\d*)?\s*[;,]\s*(?:url\s*=\s*)?[\"']?([^\"'\s][^\"']*)", re.IGNORECASE)


class _HeadReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.robots: set[str] = set()
        self.redirect = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "meta":
            return
        values = {name: (value or "").strip() for name, value in attrs}
        if values.get("name", "").lower() == "robots":
            self.robots.update(d.strip().lower() for d in values.get("content", "").split(","))
        elif values.get("http-equiv", "").lower() == "refresh" and (m := _REFRESH.match(values.get("content", ""))):
            self.redirect = self.redirect or m.group(1).strip()


_BODY = re.compile(r"<body\b", re.IGNORECASE)


def head(lines: Sequence[str]) -> Head:
    """What a page's head says of it (``Head``). Only what comes before ``<body>`` is parsed: the tags belong in
    the head, and the rest of a long page would be parsed a second time for nothing."""
    text = "\n".join(lines)
    body = _BODY.search(text)
    reader = _HeadReader()
    reader.feed(text[: body.start()] if body else text)
    reader.close()
    return Head(frozenset(reader.robots), reader.redirect)


def _hides(tag: str, attrs: list[tuple[str, str | None]], classes: list[str]) -> bool:
    """Whether an element is never shown as the page's content, by its tag or its attributes."""
    if tag in HIDDEN_TAGS or not HIDDEN_CLASSES.isdisjoint(classes):
        return True
    return any(name == "hidden" or (name, value) == ("aria-hidden", "true")
               or (name == "role" and value in HIDDEN_ROLES) for name, value in attrs)


class _Reader(HTMLParser):
    """Collects, per 0-based line, the visible text, and where headings and ``<pre>`` blocks start and end."""

    def __init__(self, n: int) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[list[str]] = [[] for _ in range(n)]
        self.hidden = 0  # depth inside hidden elements
        # Each open element's tag, whether it hides its content, and whether it is an admonition's title.
        self.open: list[tuple[str, bool, bool]] = []
        self.titles = 0  # depth inside admonition titles
        self.title_lines: set[int] = set()  # lines with text of an admonition's title
        # Lines with text of the body, neither a heading's, a signature's nor a title's: a heading on such a line
        # (a minified page holds its whole body on one) does not make the line a heading.
        self.text_lines: set[int] = set()
        self.pre: list[tuple[int, int]] = []  # (first, last) 0-based lines of each <pre>
        self.pre_start = -1
        self.headings: list[tuple[int, int, int, str]] = []  # (first, last, level, title)
        self.heading: tuple[int, int, list[str]] | None = None  # the open heading: first line, level, words
        # Open <dl>s: the first line, whether it is an API object's, and its name once its signature is read.
        self.dls: list[tuple[int, bool, str]] = []
        self.signature: tuple[int, list[str]] | None = None  # the open signature <dt>: first line, words
        self.signatures: list[tuple[int, int]] = []  # (first, last) lines of each signature
        self.objects: list[tuple[int, int, str]] = []  # (first, last, name) of each API object's <dl>

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
        classes = _classes(attrs)
        hides = _hides(tag, attrs, classes)
        title = not hides and TITLE_CLASS in classes
        self.open.append((tag, hides, title))
        self.titles += title
        if hides:
            self.hidden += 1
        elif self.hidden:
            return
        elif tag == "pre" and self.pre_start < 0:
            self.pre_start = self._line()
            # The blocks that open on the line before <pre> (Sphinx: <div class="highlight"><pre>) each left a
            # space to keep words apart; a code line keeps its spaces, so they would indent its first line. What
            # is before the <pre> on its line is prose ("<p>Run:</p><pre>make", a minified page's whole body):
            # its spaces collapse as prose's do, one space left before the code.
            if 0 <= self.pre_start < len(self.parts):
                before = " ".join("".join(self.parts[self.pre_start]).split())
                self.parts[self.pre_start] = [before + " "] if before else []
        elif tag in HEADING_TAGS and self.heading is None:
            self.heading = (self._line(), HEADING_TAGS[tag], [])
        elif tag == "dl":
            self.dls.append((self._line(), bool(classes) and classes[0] in API_DOMAINS, ""))
        elif (tag == "dt" and self.signature is None and self.dls and not self.dls[-1][2]
              and (self.dls[-1][1] or SIGNATURE_CLASS in classes)):
            self.signature = (self._line(), [])  # an API object's signature: its first <dt>

    def handle_endtag(self, tag: str) -> None:
        self._break(tag)
        if all(t != tag for t, _, _ in self.open):
            return  # a stray end tag closes nothing
        while self.open:  # an end tag closes every element left open inside it
            closed, hid, title = self.open.pop()
            self.titles -= title
            if hid:
                self.hidden -= 1
            elif closed == "pre" and self.pre_start >= 0 and not self.hidden:
                self.pre.append((self.pre_start, self._line()))
                self.pre_start = -1
            elif closed in HEADING_TAGS and self.heading is not None and not self.hidden:
                first, level, words = self.heading
                self.headings.append((first, self._line(), level, " ".join("".join(words).split())))
                self.heading = None
            elif closed == "dt" and self.signature is not None and not self.hidden:
                first, words = self.signature
                self.signatures.append((first, self._line()))
                self.dls[-1] = (self.dls[-1][0], True, _object_name("".join(words)))
                self.signature = None
            elif closed == "dl" and self.dls and not self.hidden:
                first, _, name = self.dls.pop()
                if name:
                    self.objects.append((first, self._line(), name))
            if closed == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        line = self._line()
        for offset, piece in enumerate(data.split("\n")):
            if 0 <= line + offset < len(self.parts):
                self.parts[line + offset].append(piece)
                if piece.strip() and self.heading is None and self.signature is None:
                    (self.title_lines if self.titles else self.text_lines).add(line + offset)
        if self.heading is not None:
            self.heading[2].append(data)
        if self.signature is not None:
            self.signature[1].append(data)


def _classes(attrs: list[tuple[str, str | None]]) -> list[str]:
    return next((value.split() for name, value in attrs if name == "class" and value), [])


def _object_name(signature: str) -> str:
    """The name an API object's signature gives it: "class json.JSONDecoder(*, object_hook=None)" names
    ``json.JSONDecoder``, "msg: str" ``msg``; "" when it names nothing."""
    names = _IDENTIFIER.findall(_SIGNATURE_HEAD.split(signature, maxsplit=1)[0])
    return names[-1] if names else ""


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
    for first, last in [(first, last) for first, last, _, _ in reader.headings] + reader.signatures:
        for k in range(first, min(last + 1, n)):
            is_heading[k] = k not in reader.text_lines
    paths = heading_paths([(first, level, title) for first, _, level, title in reader.headings], n)
    objects: list[list[str]] = [[] for _ in range(n)]
    for first, last, name in sorted(reader.objects):  # outer objects first: a class before its methods
        for k in range(first, min(last + 1, n)):
            objects[k].append(name)
    paths = [with_objects(path, names) for path, names in zip(paths, objects)]
    infos = []
    for k, line in enumerate(lines):
        shown = "".join(reader.parts[k])
        if code_block[k] is None:
            shown = " ".join(shown.split())
        elif not shown.strip():
            shown = ""
        text = None if shown == line else shown
        label = k in reader.title_lines and k not in reader.text_lines
        infos.append(LineInfo(paths[k], is_heading[k], code_block[k], False,
                              label or bool(line.strip()) and not shown.strip(),
                              text))
    return infos

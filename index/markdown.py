"""What each line of a Markdown file is, as a CommonMark renderer with the MkDocs/Material extensions reads it.

The chunker needs, per line: the heading path above it (``Title > Section``), whether the line is
part of a heading (an ATX ``## Title`` line, or a setext title line and its ``===``/``---``
underline), which code block holds it (fenced or indented), whether it is YAML front matter, whether
it is markup only, and what a reader sees on it. A regular expression cannot tell a ``# comment``
inside a code fence from a heading, so the file is parsed with markdown-it-py, whose block tokens carry
0-based ``[start, end)`` line ranges.

Documentation sites add syntax CommonMark does not know, and read naively it is embedded and even
cited: admonitions and content tabs (``!!! note "Title"``, ``??? tip``, ``=== "Tab"``) whose bodies are
indented four spaces (CommonMark would read them as indented code), pymdownx blocks (``/// tip`` ...
``///``), include directives (``{* ../x.py hl[6] *}``, ``--8<-- "file"``, ``{!> x.md !}``), autorefs
anchors (``[](){#id}``) and ``{ #anchor }`` heading attributes. These are found line by line first
(outside fences), the container bodies dedented, and the markers blanked, before markdown-it reads
the text: the line count never changes, so its line ranges stay the file's.

Only top-level headings make sections: a heading quoted in a blockquote or written inside a list
item belongs to that quote or item, not to the document's outline.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import emoji
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

from . import xref
from .rst import BUILD_ONLY_CONTENT, CODE_DIRECTIVES, HIDDEN_DIRECTIVES, admonition_text, role_text, rst_structure
from .structure import PATH_SEPARATOR, PLAIN, LineInfo, heading_paths, table_row_text

__all__ = ["MARKDOWN_SUFFIXES", "PATH_SEPARATOR", "PLAIN", "LineInfo", "is_markdown",
           "markdown_structure", "strip_tags"]

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx")  # .mdx: Docusaurus/Mintlify pages, Markdown with JSX
# Python-Markdown's admonition and content-tab bodies are indented by four spaces (a tab counts as four).
CONTAINER_INDENT = 4

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
# As Python-Markdown reads them: the space after the marker is optional ("!!!note") and a title runs to the
# line's last quote ('!!! note "the "jsonable" nature"').
_ADMONITION = re.compile(r"^(\s*)(?:!!!|\?\?\?\+?)\s*([\w-]+)(?:\s+[\w\s-]*?)?(?:\s*\"(.*)\")?\s*$")
_TAB = re.compile(r"^(\s*)===\+?\s+\"([^\"]*)\"\s*$")
# pymdownx blocks: "/// tip | Title", "///"; a block nested in another takes more slashes ("//// tab | Py 3.10+").
_BLOCK = re.compile(r"^\s*/{3,}\s*([\w-]*)\s*(?:\|\s*(.*?))?\s*$")
# mdBook's preprocessor directives: "{{#include ../listings/main.rs:here}}", "{{#rustdoc_include x.rs}}",
# "{{#playground x.rs editable}}" put a file there; "{{#title Guessing Game}}" sets the page's <title>.
_MDBOOK_FILE = r"include|rustdoc_include|playground"
_INCLUDE = re.compile(r"^\s*(?:\{\*.*\*\}|-+8<-+(?:\s.*)?|\{!.*!\}|\{\{#(?:" + _MDBOOK_FILE
                      + r"|title)\s[^{}]*\}\})\s*$")
# The file an include names: '{* ../../docs_src/x.py hl[6] *}', '--8<-- "docs/x.py"', '{!> ../includes/x.md !}',
# '{{#include ../listings/main.rs:here}}' (what follows a colon is the part of the file: an anchor or lines).
_INCLUDED = re.compile(r"^\s*(?:\{\*\s*|-+8<-+\s+[\"']?|\{!>?\s*|\{\{#(?:" + _MDBOOK_FILE + r")\s+)"
                       r"(?:\.\./)*([^\s\"'*!:{}]+)")
# An attribute list on a line of its own (attr_list: "{#field-after-validator}" gives the item above an id) and a
# mkdocs-macros variable ("{{ conversion_table }}", a table the build writes there): nothing a reader sees.
_BLOCK_ATTRS = re.compile(r"^\s*\{:?\s*[#.][\w-][^{}]*\}\s*$")
_MACRO = re.compile(r"^\s*\{\{\s*[\w.]+\s*(?:\|[^{}]*)?\}\}\s*$")
_AUTODOC = re.compile(r"^(\s*):::\s+\S")  # mkdocstrings: "::: pkg.Object", then indented YAML options
_ANCHOR_ONLY = re.compile(r"^\s*\[\]\(\)\{[^}]*\}\s*$")  # mkdocs-autorefs: "[](){#name}"
_HEADING_ATTRS = re.compile(r"\s*\{\s*[#.][^{}]*\}\s*(?=#*\s*$)")  # "## Title { #anchor .class }"
# Colon-fenced containers, closed by a line of colons: Docusaurus (":::tip[Title]", ":::note Title"),
# VitePress ("::: details Click me") and MyST (":::{warning} Title"). Bare "::: name" is also how mkdocstrings
# asks for an API page ("::: pkg.Object"), so without braces only the container names below open one.
_COLON_CLOSE = re.compile(r"^\s*:{3,}\s*$")
_COLON_OPEN = re.compile(r"^\s*:{3,}\s*(?:\{([\w:.+-]+)\}|([\w-]+)(?![\w.:-]))(?:\[([^\]]*)\])?\s*(.*?)\s*$")
COLON_CONTAINERS = frozenset({
    "note", "tip", "info", "warning", "danger", "caution", "important", "details", "hint", "seealso", "attention",
    "error", "abstract", "summary", "example", "question", "quote", "success", "failure", "bug", "todo",
    "dropdown", "aside", "callout", "admonition", "code-group", "tab-set", "tab-item", "secondary", "experimental",
})
# A MyST directive written as a fence ("```{note}"): an admonition's body is prose, not code.
_DIRECTIVE_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*\{([\w:.+-]+)\}\s*(.*?)\s*$")
MYST_CODE_DIRECTIVES = CODE_DIRECTIVES | {"code-cell", "mermaid", "graphviz", "plantuml"}
# "```{eval-rst}": its body is reStructuredText (autodoc, Sphinx-only directives), read by the reST reader.
MYST_RST = "eval-rst"
# Directives whose body is never shown as the page's text: a toctree's entries, an include's options.
MYST_HIDDEN_CONTENT = BUILD_ONLY_CONTENT | {"include", "literalinclude", "raw", "image", "contents"}
_OPTION = re.compile(r"^\s*:[\w-]+:(?:\s.*)?$")  # a MyST directive's option line (":class: dropdown")
_TARGET = re.compile(r"^\s*\([\w.:-]+\)=\s*$")  # a MyST label: "(install-guide)="
# MDX: ES module lines ("import Tabs from '@theme/Tabs';", "export const x = 1;") and JSX comments.
_ESM = re.compile(r"^(?:import\s+(?:[\w*{}\s,]+?\s+from\s+)?[\"'][^\"']+[\"'];?"
                  r"|export\s+(?:(?:default|const|let|var|function)\b|\{).*)\s*$")
_JSX_COMMENT = re.compile(r"^\s*\{/\*.*\*/\}\s*$")
# Static-site template tags on a line of their own: Liquid (Jekyll, GitBook: "{% hint style="info" %}",
# "{% endhint %}", "{% include x.html %}") and Hugo shortcodes ("{{< notice tip >}}", "{{% /notice %}}").
_TEMPLATE_TAG = re.compile(r"^\s*(?:\{%-?\s*(\w+)(.*?)-?%\}|\{\{[<%]-?\s*(/?[\w-]+)(.*?)-?[>%]\}\})\s*$")
_TEMPLATE_KIND = re.compile(r"\b(?:style|type|kind|class)\s*=\s*[\"']?([\w-]+)|^\s*[\"']?([A-Za-z][\w-]*)")
_TEMPLATE_TITLE = re.compile(r"\b(?:title|name)\s*=\s*[\"']([^\"']*)[\"']|^\s*[\"']([^\"']*)[\"']")
TEMPLATE_CODE = frozenset({"highlight"})  # their body is code, as a fence's
TEMPLATE_KINDED = frozenset({"hint", "notice", "alert", "callout"})  # their kind is an argument: style="warning"
TEMPLATE_ADMONITIONS = TEMPLATE_KINDED | {"admonition", "note", "tip", "warning", "info", "danger", "caution",
                                          "important"}
TEMPLATE_TABS = frozenset({"tab", "tab-item"})
# A JSX component's opening tag written over several lines ("<Tabs", "  groupId="os"", "  values={[...]}>").
_JSX_OPEN = re.compile(r"^\s*<[A-Z][\w.]*(?:\s[^<>]*)?$")
_TAG_END = re.compile(r"/?>\s*$")
JSX_TAG_LINES = 20  # an opening tag longer than this is taken for prose: a stray "<Word" hides nothing
_MYST_ROLE = re.compile(r"\{([\w:.+-]+)\}`([^`]+)`")  # "{ref}`the guide <install>`", "{py:class}`~pkg.Model`"
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|<!--.*?-->")
# Terminal sessions drawn in HTML inside console fences (FastAPI's termynal: '<font color="#4E9A06">INFO</font>',
# '<span style="color: green;">', '&apos;'): the page shows colored text, so the tags and entities are not seen.
CONSOLE_FENCES = frozenset({"console", "terminal", "shell-session", "sh-session"})
_FORMAT_TAG = re.compile(r"</?(?:font|span|b|i|strong|em|u)(?:\s[^<>]*)?>", re.IGNORECASE)
# A term with its tooltip ('<abbr title="Abstract Syntax Tree">AST</abbr>'): the page shows the gloss on hover,
# and it is often the only plain-words meaning of the term, so it reads "AST (Abstract Syntax Tree)".
_GLOSS = re.compile(r"<(abbr|dfn)\s[^<>]*?\btitle=([\"'])(.*?)\2[^<>]*>(.*?)</\1\s*>", re.IGNORECASE)
_CODE_SPAN = re.compile(r"(`+).*?\1")
_SHORTCODE = re.compile(r":([a-z0-9_+-]+):")
ICON_SETS = ("material-", "octicons-", "fontawesome-", "simple-")  # Material for MkDocs' bundled icon sets
# An inline link or image shows its text: "[Dataclasses](dataclasses.md)", "[`BaseModel`][pydantic.BaseModel]".
# An attribute list after it ("{.internal-link target=_blank}", attr_list) is never seen either.
# A target may hold balanced parentheses, as CommonMark allows ("https://en.wikipedia.org/wiki/Docker_(software)").
_TARGET_URL = r"\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"]*\")?\)"
_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\](?:" + _TARGET_URL + r"|\[[^\[\]]*\])"
                   r"(?:\{:?\s*(?:[#.][\w-]|[\w-]+=)[^{}]*\})?")


_ATX = re.compile(r"^ {0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$")
_SETEXT = re.compile(r"^ {0,3}(?:=+|-+)\s*$")


def targets(lines: Sequence[str]) -> xref.Targets:
    """The page's title (its first heading) and, for each MyST label above a heading ("(install)=" over
    "# Installing"), that heading, as reader text: what MyST's ``{doc}`` and ``{ref}`` to this page show.

    Read from the lines (fences skipped), not by markdown-it: every page of the folder is read for this in each
    run that reads any page."""
    title = ""
    labels: dict[str, str] = {}
    waiting: list[str] = []  # labels read, for the next title
    fence = ""
    previous = ""
    for k, line in enumerate(lines):
        if fence:
            fence = "" if _closes(line, fence) else fence
            previous = ""
            continue
        opened = _FENCE.match(line)
        if opened:
            fence, waiting, previous = opened.group(1), [], ""
            continue
        if _TARGET.match(line):
            waiting.append(line.strip()[1:-2])
            previous = ""  # a label may sit right above a setext title's line
            continue
        if line.strip():
            atx = _ATX.match(line)
            below = lines[k + 1] if k + 1 < len(lines) else ""
            setext = not previous.strip() and bool(_SETEXT.match(below))
            words = (atx.group(1) or "") if atx else (line if setext else None)
            if words is not None:
                shown = inline_text(_HEADING_ATTRS.sub("", words)).strip()
                title = title or shown
                labels.update((name, shown) for name in waiting)
            waiting = []
        previous = line
    return xref.Targets(title, labels)


def included_text(line: str) -> str:
    """What a passage shows for an include line: the file the built page shows there, in words a member
    reads ("(from docs_src/x.py)"), not the directive's syntax. Its words stay searchable (an example's file is
    often named for what it shows: "test_rgb.py"); a bare snippet delimiter ("--8<--") shows nothing."""
    m = _INCLUDED.match(line)
    return f"(from {m.group(1)})" if m else ""


# An opening fence's info string names the language first, then build options: attribute lists (pydantic's
# '{test="skip" lint="skip"}'), MkDocs' 'hl_lines="3"' and 'linenums="1"'. Only the language and a title
# ('title="main.py"', the file the page names the block by) mean anything to a reader.
_FENCE_LANGUAGE = re.compile(r"[\w+#.-]+")
_FENCE_TITLE = re.compile(r"""(?<![\w-])title=(?:"([^"]*)"|'([^']*)'|([^\s}]+))""")


def fence_opener(marker: str, info: str) -> str:
    """An opening fence as a passage shows it: its marker, its language, and its title in parentheses
    ("```python (main.py)"); build options are not shown. A MyST code directive ("```{code-block} python")
    names its language after the directive."""
    info = info.strip()
    words = info.split()
    if words and words[0].startswith("{") and words[0].strip("{}") in MYST_CODE_DIRECTIVES:
        info = " ".join(words[1:])
    language = _FENCE_LANGUAGE.match(info)
    title = _FENCE_TITLE.search(info)
    named = next((g for g in title.groups() if g is not None), "") if title else ""
    return marker + (language.group() if language else "") + (f" ({named})" if named else "")


def is_markdown(source: str) -> bool:
    """Whether a file is read as Markdown, by its name (as the loader found it)."""
    return source.lower().endswith(MARKDOWN_SUFFIXES)


@lru_cache(maxsize=1)
def _parsers() -> tuple[MarkdownIt, MarkdownIt]:
    """A block parser for whole files and a full one for heading text, built once: parsing keeps its
    state per call, so the instances can be shared. Only headings need their inline markup read, and
    skipping it for every other block makes a file parse about four times faster. Tables (GFM, which
    every documentation generator reads) are enabled so that their ``|---|`` rules can be found."""
    full = MarkdownIt("commonmark").use(front_matter_plugin).enable("table")
    blocks = MarkdownIt("commonmark").use(front_matter_plugin).enable("table").disable(["inline", "text_join"])
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
    inline = _parsers()[1].parseInline(_HEADING_ATTRS.sub("", markup))
    return " ".join("".join(_words([c for token in inline for c in token.children or []])).split())


def strip_tags(line: str) -> str:
    """A line with its HTML tags and comments removed, code spans left alone (``List<int>`` is code)."""
    def prose(part: str) -> str:
        return _TAG.sub("", _GLOSS.sub(lambda m: f"{m.group(4)} ({m.group(3)})" if m.group(3) else m.group(4), part))

    out, at = [], 0
    for span in _CODE_SPAN.finditer(line):
        out.append(prose(line[at : span.start()]))
        out.append(span.group(0))
        at = span.end()
    out.append(prose(line[at:]))
    return "".join(out)


# A link reference definition, which markdown-it consumes without a token: a reader never sees the line.
_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S")
# A link cut by a line break, as text wrapped at 80 columns cuts one: "[Validation and" over
# "Serialization](../Reference/Validation.md) docs". The opening bracket has no close on its line; the next line
# closes it, then gives the target (inline or a reference).
_LINK_OPEN = re.compile(r"!?\[(?=[^\[\]]*$)")
_LINK_CLOSE = re.compile(r"^(\s*[^\[\]]*)\](?:" + _TARGET_URL + r"|\[[^\[\]]*\])")
# The words may run over more lines ("[OAuth" / "Authorization Code" / "Flow](https://...)", Fastify's guides):
# up to this many in all, the lines between holding no bracket. A paragraph wraps a link's words over two or
# three lines at most; four leaves room and stops at the paragraph's end.
LINK_LINES = 4
_NO_BRACKET = re.compile(r"^[^\[\]]*$")
# Or the target goes on the next line, as Fastify writes long URLs: "[here](" over "https://x.test/a)."
_TARGET_OPEN = re.compile(r"!?\[([^\[\]]*)\]\(\s*$")
_TARGET_REST = re.compile(r"^\s*[^\s()]+(?:\s+\"[^\"]*\")?\)")


def _joined_links(lines: Sequence[str], code_block: Sequence[int | None]) -> list[str]:
    """The lines with each link that a line break cuts read as a reader sees it: its words on the lines they are
    written on, without the brackets and the target ("Validation and" over "Serialization docs"), also when its
    words run over more lines (``LINK_LINES``) or its target goes on the next line ("[here](" over "url)").
    Fastify's docs cut 83 links so; each showed "Serialization](../Reference/Validation.md)" in a cited passage."""
    out = list(lines)
    n = len(out)
    for k in range(n - 1):
        if code_block[k] is not None or code_block[k + 1] is not None:
            continue
        opened = _LINK_OPEN.search(out[k])
        if opened and not out[k][: opened.start()].count("`") % 2:
            for j in range(k + 1, min(k + LINK_LINES, n)):
                if code_block[j] is not None or not out[j].strip():
                    break
                if close := _LINK_CLOSE.match(out[j]):
                    out[k] = out[k][: opened.start()] + out[k][opened.end():]
                    out[j] = close.group(1) + out[j][close.end():]
                    break
                if not _NO_BRACKET.match(out[j]):
                    break
        target = _TARGET_OPEN.search(out[k])
        if target and not out[k][: target.start()].count("`") % 2 and (rest := _TARGET_REST.match(out[k + 1])):
            out[k] = out[k][: target.start()] + target.group(1)
            out[k + 1] = out[k + 1][rest.end():]
    return out


def inline_text(line: str) -> str:
    """A prose line as a reader sees it: tags dropped, links and images shown as their text, MyST roles as
    Sphinx shows them, emoji shortcodes as their emoji."""
    line = _MYST_ROLE.sub(lambda m: role_text(m.group(1), m.group(2)), line)
    return without_emphasis(emoji_text(_LINK.sub(lambda m: m.group(1), strip_tags(line))))


_EMPHASIS_MARKS = ("em_open", "em_close", "strong_open", "strong_close")


def without_emphasis(line: str) -> str:
    """A prose line without its emphasis marks ("is **not** cached" reads "is not cached"), as the page shows
    it: a quoted line is escaped, so the marks would be shown as stars. markdown-it decides what is emphasis
    (an intraword "_" in snake_case is not, nor "2 * 3"); a line with none is returned as written."""
    if "*" not in line and "_" not in line:
        return line
    body = line.strip()
    children = [child for token in _parsers()[1].parseInline(body) for child in token.children or []]
    if not any(child.type in _EMPHASIS_MARKS for child in children):
        return line
    lead = line[: len(line) - len(line.lstrip())]
    return lead + "".join(_shown(children))


def _shown(tokens: Sequence[Token]) -> Iterator[str]:
    """Inline tokens back as prose text: code spans in their backticks, emphasis marks and link marks gone
    (a link's words are its text tokens), an image as its alt text."""
    for token in tokens:
        if token.type in _EMPHASIS_MARKS or token.type in ("link_open", "link_close"):
            continue
        if token.type == "code_inline":
            pad = " " if token.content.startswith("`") or token.content.endswith("`") else ""
            yield f"{token.markup}{pad}{token.content}{pad}{token.markup}"
        elif token.type in ("softbreak", "hardbreak"):
            yield " "
        elif token.type == "image":
            yield from _shown(token.children or [])
        else:
            yield token.content


def emoji_text(line: str) -> str:
    """Shortcodes as pymdownx.emoji renders them, outside code spans: ":x: Bad" reads "❌ Bad" (the emoji
    package's table, GitHub's aliases), and a theme icon (":material-check:", ":octicons-alert-16:") is a
    picture with no words, not shown. Any other ":word:" stays as written."""
    if line.count(":") < 2:
        return line
    spans = [(m.start(), m.end()) for m in _CODE_SPAN.finditer(line)]

    def shown(m: re.Match[str]) -> str:
        if any(a <= m.start() < b for a, b in spans):
            return m.group(0)
        if m.group(1).startswith(ICON_SETS):
            return ""
        return str(emoji.emojize(m.group(0), language="alias"))

    return _SHORTCODE.sub(shown, line)


def _indent(line: str) -> int:
    return len(line.expandtabs(CONTAINER_INDENT)) - len(line.expandtabs(CONTAINER_INDENT).lstrip())


@dataclass
class _Extensions:
    """What the line-by-line pass over the MkDocs syntax found, per 0-based line."""

    fed: list[str]  # the text markdown-it reads: container bodies dedented, marker lines blank
    dedented: list[str]  # each line without its containers' indentation (what a reader sees of it)
    markup: list[bool]
    text: list[str | None]
    rst: list[tuple[int, int]]  # the [first, end) lines of each ``{eval-rst}`` body, fed to markdown-it blank


def _marker_text(line: str) -> str | None:
    """The reader text of a container marker line, or None when the line is not one."""
    if m := _ADMONITION.match(line):
        kind, title = m.group(2).replace("-", " ").capitalize(), m.group(3)
        return f"{kind}: {title}" if title else kind
    if m := _TAB.match(line):
        return emoji_text(m.group(2))
    if m := _BLOCK.match(line):
        if m.group(1).lower() == "tab":  # a tab shows its title, as "=== \"Title\"" does
            return m.group(2) or ""
        kind, title = m.group(1).replace("-", " ").capitalize(), m.group(2)
        return f"{kind}: {title}" if kind and title else kind or title or ""
    return None


def _closes(body: str, mark: str) -> bool:
    """Whether a line closes the fence opened by ``mark``: the same character, at least as many, nothing else."""
    m = _FENCE.match(body)
    if not m:
        return False
    return m.group(1)[0] == mark[0] and len(m.group(1)) >= len(mark) and not body.strip().strip(mark[0])


def _colon_opener(body: str) -> str | None:
    """The reader text of a colon-fenced container's opening line, or None when the line opens none."""
    m = _COLON_OPEN.match(body)
    if not m or not (m.group(1) or m.group(2).lower() in COLON_CONTAINERS):
        return None
    name = (m.group(1) or m.group(2)).lower()
    return "" if name in HIDDEN_DIRECTIVES else admonition_text(name, inline_text(m.group(3) or m.group(4)))


def _jsx_end(lines: Sequence[str], start: int) -> int | None:
    """The line that closes a JSX opening tag begun on ``start``, if one does within ``JSX_TAG_LINES``."""
    for k in range(start + 1, min(start + 1 + JSX_TAG_LINES, len(lines))):
        if "<" in lines[k] or not lines[k].strip():
            return None  # another tag or a blank line: this was no tag, but prose that starts with "<"
        if _TAG_END.search(lines[k]):
            return k
    return None


def _template_tag(body: str) -> tuple[str, str] | None:
    """A template tag alone on its line: its name (a closing tag as "/name") and its arguments."""
    m = _TEMPLATE_TAG.match(body)
    if not m:
        return None
    name, args = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    name = name.lower()
    if name.startswith("end") and len(name) > 3:  # Liquid closes "hint" with "endhint"
        name = "/" + name[3:]
    return name, args.strip()


def _template_text(name: str, args: str) -> str:
    """What a reader sees for an opening template tag: an admonition's label, a tab's title, else nothing."""
    if name in TEMPLATE_ADMONITIONS:
        kind = _TEMPLATE_KIND.search(args) if args else None
        word = (kind.group(1) or kind.group(2)) if kind else ""
        return admonition_text(word.lower() if word and name in TEMPLATE_KINDED else name, "")
    if name in TEMPLATE_TABS and (title := _TEMPLATE_TITLE.search(args)):
        return title.group(1) or title.group(2) or ""
    return ""


def _extensions(lines: Sequence[str]) -> _Extensions:
    """Find the MkDocs/Material, Docusaurus/VitePress, MyST, MDX and template (Liquid, Hugo) markers outside
    fences, and dedent the bodies of indented containers."""
    fed = [line.replace("\r", " ").replace("\n", " ") for line in lines]
    dedented = list(fed)
    markup = [False] * len(lines)
    text: list[str | None] = [None] * len(lines)
    fence = ""  # the open code fence's marker, "" outside fences
    hidden = ""  # the fence of an open MyST directive that only steers the build ("```{toctree}")
    directives: list[str] = []  # the fences of open MyST admonition directives ("```{note}"), innermost last
    colons = 0  # how many colon-fenced containers are open
    opened: list[int] = []  # the indentation of each open admonition or tab marker, outermost first
    options = -1  # the indentation of an open "::: object" whose option lines follow (-1: none)
    directive_options = False  # the line above opened a MyST directive (or was one of its options)
    jsx_end = -1  # the last line of a JSX opening tag that spans lines (-1: none open)
    template_code = ""  # the name of an open template code tag ("{% highlight ruby %}"), "" when none
    rst_fence, rst_start = "", 0  # an open "```{eval-rst}" fence and its body's first line
    rst: list[tuple[int, int]] = []

    def hide(k: int, shown: str | None = "") -> None:
        markup[k], text[k], fed[k] = True, shown, ""

    for k, line in enumerate(fed):
        if options >= 0 and (not line.strip() or _indent(line) > options):
            hide(k)  # an option of the autodoc line above: never seen
            continue
        options = -1
        if hidden:
            hide(k)
            hidden = "" if _closes(line, hidden) else hidden
            continue
        if k <= jsx_end:
            hide(k)
            continue
        if rst_fence:
            inner = line.expandtabs(CONTAINER_INDENT)[CONTAINER_INDENT * len(opened):]
            if _closes(inner, rst_fence):
                rst.append((rst_start, k))
                rst_fence = ""
                hide(k)
            else:
                dedented[k], fed[k] = inner, ""
            continue
        if line.strip() and opened:
            while opened and _indent(line) < opened[-1] + CONTAINER_INDENT:
                opened.pop()
        depth = CONTAINER_INDENT * len(opened)
        body = line.expandtabs(CONTAINER_INDENT)[depth:] if depth and line.strip() else line
        fed[k] = dedented[k] = body
        if directive_options and _OPTION.match(body):
            hide(k)
            continue
        directive_options = False
        if fence:
            fence = "" if _closes(body, fence) else fence
            continue
        if template_code:
            if _template_tag(body) == ("/" + template_code, ""):
                markup[k], text[k], fed[k] = True, "", "```"  # markdown-it reads a fence in its place
                template_code = ""
            continue
        if directives and _closes(body, directives[-1]):
            directives.pop()
            hide(k)
            continue
        if m := _DIRECTIVE_FENCE.match(body):
            name = m.group(2).lower()
            if name in MYST_HIDDEN_CONTENT or name.startswith("auto"):
                hidden = m.group(1)
                hide(k)
                continue
            if name == MYST_RST:
                rst_fence, rst_start = m.group(1), k + 1
                hide(k)
                continue
            if name not in MYST_CODE_DIRECTIVES:  # an admonition, or a container whose body is prose
                directives.append(m.group(1))
                hide(k, "" if name in HIDDEN_DIRECTIVES else admonition_text(name, inline_text(m.group(3))))
                directive_options = True
                continue
        if m := _FENCE.match(body):
            fence = m.group(1)
            # A MyST code directive's options (":linenos:", ":caption: x") come first in its body: build only.
            directive_options = bool(_DIRECTIVE_FENCE.match(body))
            continue
        shown = _marker_text(body)
        if shown is not None:
            hide(k, shown)
            if _ADMONITION.match(body) or _TAB.match(body):
                opened.append(depth + _indent(body))
        elif colons and _COLON_CLOSE.match(body):
            colons -= 1
            hide(k)
        elif (opener := _colon_opener(body)) is not None:
            colons += 1
            hide(k, opener)
            directive_options = True
        elif _INCLUDE.match(body):
            hide(k, included_text(body))
        elif _BLOCK_ATTRS.match(body) or _MACRO.match(body):
            hide(k)
        elif _AUTODOC.match(body):
            # The built page shows the object's API reference here: say so, as an include says what it shows.
            hide(k, f"(API reference: {body.strip()[3:].strip()})")
            options = _indent(line)
        elif _ANCHOR_ONLY.match(body) or _TARGET.match(body) or _JSX_COMMENT.match(body) or (
                not depth and _ESM.match(body)):
            hide(k)
        elif _JSX_OPEN.match(body) and (end := _jsx_end(fed, k)) is not None:
            hide(k)
            jsx_end = end
        elif (tag := _template_tag(body)) is not None:
            name, args = tag
            if name in TEMPLATE_CODE:
                markup[k], text[k], fed[k] = True, "", "```"
                template_code = name
            else:
                hide(k, "" if name.startswith("/") else _template_text(name, args))
    if rst_fence:  # never closed: CommonMark runs an unclosed fence to the end of the file
        rst.append((rst_start, len(lines)))
    return _Extensions(fed, dedented, markup, text, rst)


def markdown_structure(lines: Sequence[str]) -> list[LineInfo]:
    """Per-line structure of a Markdown document given as its lines (``lines[i]`` is line ``i + 1``)."""
    n = len(lines)
    ext = _extensions(lines)
    # markdown-it reads "\n"-joined text; a stray CR would count as one more line break, so it is blanked.
    tokens = _parsers()[0].parse("\n".join(ext.fed))
    is_heading = [False] * n
    code_block: list[int | None] = [None] * n
    front_matter = [False] * n
    markup, text = ext.markup, ext.text
    starts: list[tuple[int, int, str]] = []  # (first line, level, text) of each top-level heading
    html_lines: set[int] = set()
    console: set[int] = set()  # the lines inside console fences
    in_table = [False] * n  # every line of a pipe table: its rows, and its rule (hidden below)
    blocks = 0
    read: set[int] = set()  # the lines some block token holds
    for i, token in enumerate(tokens):
        if token.map is None:
            continue
        start, end = token.map[0], min(token.map[1], n)
        read.update(range(start, end))
        if token.type == "heading_open" and token.level == 0:
            for k in range(start, end):
                is_heading[k] = True
            starts.append((start, int(token.tag[1:]), _plain_text(tokens[i + 1].content)))
            if token.markup in ("=", "-") and end - start >= 2:  # a setext underline: nothing a reader sees
                markup[end - 1], text[end - 1] = True, ""
            for k in range(start, end):
                if _HEADING_ATTRS.search(lines[k]) and text[k] is None:
                    text[k] = _HEADING_ATTRS.sub("", lines[k])
        elif token.type in ("fence", "code_block"):
            for k in range(start, end):
                code_block[k] = blocks
                if _INCLUDE.match(ext.dedented[k]):  # "{!> ../x.py!}" in a fence: the build puts code there
                    markup[k], text[k] = True, included_text(ext.dedented[k])
            blocks += 1
            if token.type == "fence" and text[start] is None:
                opener = fence_opener(token.markup, token.info)
                if opener != ext.dedented[start].strip():
                    text[start] = opener
            if token.type == "fence" and not token.content.strip():
                # Nothing inside: a placeholder the build fills ('```{.textual path="app.py"}' is a screenshot of
                # the app), or an empty block. A passage would show only its fence lines.
                for k in range(start, end):
                    markup[k], text[k] = True, ""
            elif token.type == "fence":  # its ``` / ~~~ lines are shown with the code but never answer
                if (token.info.split() or [""])[0].lower() in CONSOLE_FENCES:
                    console.update(range(start + 1, end - 1))
                markup[start] = True
                closing = lines[end - 1].strip()
                if end - 1 > start and closing.startswith(token.markup) and not closing.strip(token.markup[0]):
                    markup[end - 1] = True
        elif token.type == "front_matter":
            for k in range(start, end):
                front_matter[k] = True
        elif token.type == "hr":
            markup[start], text[start] = True, ""
        elif token.type == "table_open" and start + 1 < n:
            markup[start + 1], text[start + 1] = True, ""  # the |---|:---:| rule under the header row
            in_table[start:end] = [True] * (end - start)
        elif token.type == "html_block":
            html_lines.update(range(start, end))
    in_rst = {k for a, b in ext.rst for k in range(a, b)}
    for k in range(n):  # a link reference definition ("[routes]: ./Routes.md", "[//]: # (a comment)") is read
        if k not in read and text[k] is None and _DEFINITION.match(ext.fed[k]):  # into the links, never shown
            markup[k], text[k] = True, ""
    joined = _joined_links(ext.dedented, code_block)
    for k in range(n):
        if front_matter[k] or text[k] is not None or k in in_rst:
            continue
        # A container's indentation is not seen; raw HTML in prose (an html block, inline tags such as
        # <font color=...>) is shown as its text, and a link as its words.
        if code_block[k] is not None:
            shown = ext.dedented[k]
        elif in_table[k]:  # a row: the rule has its text already
            shown = table_row_text(joined[k], inline_text)
        else:
            shown = inline_text(joined[k])
        if k in console:
            shown = html.unescape(_FORMAT_TAG.sub("", shown))
        if shown != lines[k]:
            text[k] = shown if shown.strip() else ""
            markup[k] = markup[k] or not shown.strip()
        elif k in html_lines and not shown.strip():
            markup[k] = True
    headings = heading_paths(starts, n)
    for a, b in ext.rst:
        blocks = _read_rst(lines, ext.dedented, a, b, headings, is_heading, code_block, markup, text, in_table, blocks)
    return [
        LineInfo(*facts)
        for facts in zip(headings, is_heading, code_block, front_matter, markup, text, in_table, strict=True)
    ]


def _read_rst(
    lines: Sequence[str], dedented: Sequence[str], a: int, b: int, headings: list[str], is_heading: list[bool],
    code_block: list[int | None], markup: list[bool], text: list[str | None], in_table: list[bool], blocks: int,
) -> int:
    """Read the ``{eval-rst}`` body ``dedented[a:b]`` as reStructuredText into the per-line lists (its API objects
    nest under the Markdown heading above), and return the next free code block number.

    A body docutils cannot read is one code block: it is shown as written and never answers as prose.
    """
    try:
        infos = rst_structure(dedented[a:b])
    except Exception:  # noqa: BLE001 - untrusted text; the block stays readable as code
        infos = [LineInfo(code_block=0)] * (b - a)
    used = -1
    for k, info in zip(range(a, b), infos, strict=True):
        if info.heading:
            headings[k] = PATH_SEPARATOR.join(p for p in (headings[k], info.heading) if p)
        is_heading[k], markup[k], in_table[k] = info.is_heading, info.markup, info.in_table
        shown = dedented[k] if info.text is None else info.text
        text[k] = None if shown == lines[k] else shown
        if info.code_block is not None:
            code_block[k] = blocks + info.code_block
            used = max(used, info.code_block)
    return blocks + used + 1

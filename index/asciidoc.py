"""What each line of an AsciiDoc file is: section titles, delimited blocks, admonitions, attributes, macros.

AsciiDoc (Asciidoctor, Antora sites) is line-oriented: a section title, a block delimiter, an attribute list
or an attribute entry is always one whole line, and a delimited block ends at the same delimiter line that
opened it. So it is read here line by line, in the way the grammar itself is written, rather than through a
converter: the only Python implementation (asciidoc-py) renders HTML and keeps no source line numbers.

What a reader sees is kept on each line: ``== Install`` is a heading, ``----`` delimits code, ``[source,py]``
and ``[[anchor]]`` are markup, ``NOTE: text`` reads ``Note: text``, ``<<install,the guide>>`` reads
``the guide`` and ``{project}`` the value its ``:project: Crane`` entry gave it. Comments, attribute entries,
page breaks and passthrough blocks are never seen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .structure import LineInfo, heading_paths

ASCIIDOC_SUFFIXES = (".adoc", ".asciidoc", ".asc")

_TITLE = re.compile(r"^(={1,6}|#{1,6})\s+(\S.*?)(?:\s+\1)?\s*$")  # "== Install", "=== Install ==="
# A two-line title: its text, then a line of one character whose kind gives the level ("=" the document's
# title, then "-", "~", "^", "+"), as long as the text give or take UNDERLINE_SLACK characters. Older AsciiDoc
# writes every title so (git's manual pages: "NAME" over "----"); without it "----" reads as a listing block.
_UNDERLINE = re.compile(r"^([=\-~^+])\1+\s*$")
_UNDERLINE_LEVELS = "=-~^+"
UNDERLINE_SLACK = 2  # asciidoc-py's rule (its user guide, "Two line titles"); Asciidoctor allows one
_TWO_LINE_TEXT = re.compile(r"^[\w\"'`(]")  # starts as words do: not a list item, a block title or markup
# Delimited blocks: listing and literal hold code; passthrough and comment blocks are never shown; example,
# sidebar, quote and open blocks hold prose (an admonition's "[NOTE]" + "====" among them).
_VERBATIM = re.compile(r"^(-{4,}|\.{4,}|\+{4,}|/{4,})\s*$")
_COMPOUND = re.compile(r"^(={4,}|\*{4,}|_{4,}|--)\s*$")
_TABLE = re.compile(r"^[|,:!]={3,}\s*$")
_ATTRIBUTE_LIST = re.compile(r"^\[\[?[^\[\]]*\]\]?\s*$")  # "[source,python]", "[NOTE]", "[[anchor]]", "[#id]"
_SOURCE = re.compile(r"^\[(?:source|listing|literal)\b|^\[,\s*\w")  # "[source,py]", "[,python]"
_BLOCK_TITLE = re.compile(r"^\.([^.\s].*)$")  # ".Optional settings": a caption for the next block
_ADMONITION = re.compile(r"^(NOTE|TIP|IMPORTANT|WARNING|CAUTION):\s+(.*)$")
_ADMONITION_STYLE = re.compile(r"^\[(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\b[^\]]*\]\s*$")
_COMMENT = re.compile(r"^//(?!//)")
_ATTRIBUTE_ENTRY = re.compile(r"^:(!?[\w][\w-]*!?):(?:\s+(.*))?$")
_HIDDEN_MACRO = re.compile(r"^(?:image|video|audio|toc)::[^\[]*\[.*\]\s*$|^(?:'{3,}|<{3})\s*$")
_INCLUDE = re.compile(r"^include::[^\[]+\[.*\]\s*$")
_CONDITIONAL = re.compile(r"^(?:ifn?def|ifeval|endif)::[^\[]*\[.*\]\s*$")  # "ifdef::git-commit[]": never seen
_CONTINUATION = re.compile(r"^\+\s*$")  # a lone "+" joins the next block to a list item: never seen
_TERM = re.compile(r"^(\S.*?)(?::{2,4}|;;)\s*$")  # "--amend::" opens a description list item: the term is read
# A term and its description on one line ("`araxis`;;   Use Araxis Merge"): read "`araxis`: Use Araxis Merge".
_TERM_INLINE = re.compile(r"^(\S[^:;]*?)(?::{2,4}|;;)\s+(\S.*)$")
# Inline: cross references, links and UI macros read as their text; *strong* and _emphasis_ as their words.
_XREF = re.compile(r"<<([^,<>]+?)(?:,\s*([^<>]+?))?>>")
_LINK_MACRO = re.compile(r"\b(?:xref|link|mailto):([^\s\[]+)\[([^\]]*)\]|\b(https?://[^\s\[]+)\[([^\]]*)\]")
_UI_MACRO = re.compile(r"\b(?:kbd|btn|pass|footnote):\[([^\]]*)\]")  # "kbd:[Ctrl+C]" reads "Ctrl+C"
# Any other inline macro ("linkgit:git-add[1]", "issue:42[the bug]", "image:up.png[Up]") reads as its text,
# or as its target where the text is empty or a bare number (git's manual section: "git-add").
_OTHER_MACRO = re.compile(r"(?<![\w/:])([a-z][a-z0-9-]+):([^\s\[\]:]+)\[([^\]]*)\]")
_STRONG = re.compile(r"(?<![\w*])\*{1,2}(\S(?:[^*]*?\S)?)\*{1,2}(?![\w*])")
_EMPHASIS = re.compile(r"(?<![\w_])_{1,2}(\S(?:[^_]*?\S)?)_{1,2}(?![\w_])")
_ATTRIBUTE_REF = re.compile(r"\{([\w][\w-]*)\}")
# A literal passthrough in monospace, "`+icon:fire[]+`": its text is shown as written, in backticks (no macro,
# reference or emphasis in it). A bare "+text+" is not taken for one: in older AsciiDoc it is monospace, and
# plus signs draw tables and diagrams in git's pages ("+----------+").
_PASSTHROUGH = re.compile(r"`\+([^`]+?)\+`")
_LABELS = {"NOTE": "Note", "TIP": "Tip", "IMPORTANT": "Important", "WARNING": "Warning", "CAUTION": "Caution"}


# Lines only AsciiDoc writes: an include or a conditional ("ifdef::x[]"), an anchor ("[[install]]"), a block
# style ("[verse]", "[source,sh]", "[NOTE]"), a link macro ("linkgit:git-add[1]", "xref:a.adoc[]"), a cross
# reference ("<<install>>") or a description list's option term ("--amend::", "'<rev>'::", "`bc`;;"). They
# tell an AsciiDoc ".txt" (git's manual pages) from reST and plain text (``formats.sniffed``).
SIGNATURE = re.compile(
    r"^(?:include|ifn?def|ifeval|endif)::\S*\[.*\]\s*$|^\[\[[\w:.-]+\]\]\s*$"
    r"|^\[(?:verse|source|listing|literal|quote|NOTE|TIP|IMPORTANT|WARNING|CAUTION)\b[^\]]*\]\s*$"
    r"|\b(?:link|linkgit|xref):[^\s\[\]]+\[[^\]]*\]|<<[\w-]+(?:,[^<>]+)?>>"
    r"|^[-`'].*::(?:\s|$)|^\S[^;]*;;(?:\s|$)")


def is_asciidoc(source: str) -> bool:
    """Whether a file is read as AsciiDoc, by its name."""
    return source.lower().endswith(ASCIIDOC_SUFFIXES)


def inline_text(line: str, attributes: dict[str, str]) -> str:
    """A prose line as a reader sees it: references and macros as their text, attribute values filled in. A
    monospace passthrough (```+icon:fire[]+```) shows its text as written, in backticks."""
    parts = _PASSTHROUGH.split(line)  # text, passthrough, text, ...
    return "".join(f"`{part}`" if i % 2 else _substituted(part, attributes) for i, part in enumerate(parts))


def _filled(text: str, attributes: dict[str, str]) -> str:
    """``text`` with each ``{name}`` it references replaced by the attribute's value (unknown ones kept)."""
    return _ATTRIBUTE_REF.sub(lambda m: attributes.get(m.group(1), m.group(0)), text)


def _substituted(line: str, attributes: dict[str, str]) -> str:
    line = _filled(line, attributes)
    line = _XREF.sub(lambda m: m.group(2) or m.group(1).replace("-", " ").replace("_", " ").strip(), line)
    line = _LINK_MACRO.sub(lambda m: (m.group(2) or m.group(1)) if m.group(1) else (m.group(4) or m.group(3)), line)
    line = _UI_MACRO.sub(lambda m: m.group(1), line)
    line = _OTHER_MACRO.sub(lambda m: m.group(2) if m.group(3).strip().isdigit() or not m.group(3).strip()
                            else m.group(3), line)
    return _EMPHASIS.sub(r"\1", _STRONG.sub(r"\1", line))


def _define(attributes: dict[str, str], entry: re.Match[str]) -> None:
    """Record an attribute entry (":url-repo: {url-org}/crane"): references in its value are filled in when it
    is defined, as AsciiDoc does, so that a later "{url-repo}" reads the whole address."""
    attributes[entry.group(1).strip("!")] = _filled(entry.group(2) or "", attributes)


def _two_line_level(lines: Sequence[str], k: int) -> int:
    """The level (1 for the document's title) of a two-line title whose text is line ``k``; 0 when it is not
    one. A title starts a block, so the line above is blank, an anchor or an attribute list."""
    if k + 1 >= len(lines) or not _TWO_LINE_TEXT.match(lines[k]):
        return 0
    if k and lines[k - 1].strip() and not _ATTRIBUTE_LIST.match(lines[k - 1].rstrip()):
        return 0
    m = _UNDERLINE.match(lines[k + 1].rstrip())
    if not m or abs(len(lines[k + 1].strip()) - len(lines[k].strip())) > UNDERLINE_SLACK:
        return 0
    return _UNDERLINE_LEVELS.index(m.group(1)) + 1


def asciidoc_structure(lines: Sequence[str]) -> list[LineInfo]:
    """Per-line structure of an AsciiDoc document given as its lines (``lines[i]`` is line ``i + 1``)."""
    n = len(lines)
    is_heading = [False] * n
    code_block: list[int | None] = [None] * n
    markup = [False] * n
    text: list[str | None] = [None] * n
    starts: list[tuple[int, int, str]] = []
    attributes: dict[str, str] = {}
    compound: list[str] = []  # the delimiters of open prose blocks (example, sidebar, quote, open), innermost last
    verbatim = ""  # the delimiter of the open listing, literal, passthrough or comment block
    code_kind = False  # the open verbatim block is code (listing, literal), not hidden (passthrough, comment)
    source_next = False  # "[source,python]" above: the next block is code, delimited or not
    paragraph_code = False  # inside a "[source]" paragraph (no delimiters): code until a blank line
    blocks = 0

    def hide(k: int, shown: str = "") -> None:
        markup[k], text[k] = True, shown

    in_header = False
    underline = -1  # the underline of the two-line title just read
    for k, raw in enumerate(lines):
        line = raw.rstrip()
        if k == underline:
            hide(k)
            continue
        if verbatim:
            if line == verbatim:
                verbatim = ""
                hide(k)
                if code_kind:
                    code_block[k] = blocks - 1
                continue
            if code_kind:
                code_block[k] = blocks - 1
            else:
                hide(k)
            continue
        if in_header:
            if not line:
                in_header = False
            elif m := _ATTRIBUTE_ENTRY.match(line):
                _define(attributes, m)
                hide(k)
                continue
            elif not _COMMENT.match(line):
                hide(k)  # the author and revision lines under the document title
                continue
        if paragraph_code:
            if line:
                code_block[k] = blocks - 1
                continue
            paragraph_code = False
        if not line:
            continue
        if _COMMENT.match(line) or _HIDDEN_MACRO.match(line) or _CONDITIONAL.match(line) or _CONTINUATION.match(line):
            hide(k)
        elif level := _two_line_level(lines, k):
            title = inline_text(line, attributes)
            is_heading[k] = is_heading[k + 1] = True
            text[k] = title
            underline = k + 1
            starts.append((k, level, title))
            in_header = level == 1 and len(starts) == 1
        elif m := _VERBATIM.match(line):
            verbatim = m.group(1)
            code_kind = verbatim[0] in "-." or source_next
            hide(k)
            if code_kind:
                code_block[k] = blocks
                blocks += 1
            source_next = False
        elif source_next:
            source_next, paragraph_code = False, True
            code_block[k] = blocks
            blocks += 1
        elif compound and line == compound[-1]:
            compound.pop()
            hide(k)
        elif m := _COMPOUND.match(line):
            compound.append(m.group(1))
            hide(k)
        elif _TABLE.match(line):
            hide(k)
        elif m := _ATTRIBUTE_ENTRY.match(line):
            _define(attributes, m)
            hide(k)
        elif m := _ADMONITION_STYLE.match(line):
            hide(k, _LABELS[m.group(1)])
        elif _ATTRIBUTE_LIST.match(line):
            source_next = bool(_SOURCE.match(line))
            hide(k)
        elif _INCLUDE.match(line):
            markup[k] = True  # shown as written: the reader of the source sees where the text comes from
        elif m := _TITLE.match(line):
            level = len(m.group(1))
            title = inline_text(m.group(2), attributes)
            is_heading[k] = True
            text[k] = title
            starts.append((k, level, title))
            in_header = level == 1 and len(starts) == 1  # "= Title" opens the document header
        elif m := _BLOCK_TITLE.match(line):
            hide(k, inline_text(m.group(1), attributes))
        elif m := _ADMONITION.match(line):
            text[k] = f"{_LABELS[m.group(1)]}: {inline_text(m.group(2), attributes)}"
        elif m := _TERM.match(line):
            text[k] = inline_text(m.group(1), attributes)
        elif m := _TERM_INLINE.match(line):
            text[k] = f"{inline_text(m.group(1), attributes)}: {inline_text(m.group(2), attributes)}"
        else:
            shown = inline_text(line, attributes)
            if shown != raw:
                text[k] = shown
    paths = heading_paths(starts, n)
    return [LineInfo(*facts) for facts in zip(paths, is_heading, code_block, [False] * n, markup, text,
                                              strict=True)]

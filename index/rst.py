"""What each line of a reStructuredText file is: sections, directives, roles and code blocks, read by docutils.

docutils parses the file into a tree whose nodes say where they came from: a section title's node gives its
underline's line, a ``::`` literal block its first line, and each directive its own line, where its content
starts and how long it is. Sphinx's directives and roles (``.. autoclass::``, ``:class:``) are unknown to plain
docutils, which would report them as errors and drop their content, so every directive and role name the file
uses is registered with a permissive handler that records where it is and parses its body as reST. Nothing is
printed, no file is read (``include`` and ``raw`` are off), and a file docutils still cannot read falls back
to plain lines.

What docutils does not place on a line precisely (comments, targets, a role's text inside a line) is read
from the line itself with the patterns below, which only ever look at one line at a time.
"""

from __future__ import annotations

import ast
import re
import textwrap
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import xref
from .structure import LineInfo, heading_paths, table_row_text, with_objects

RST_SUFFIXES = (".rst", ".rest")

# Sphinx directives whose body is code, shown as a code block; and those that only steer the build
# (their line and options are never shown). Every other directive is an admonition (its words are prose:
# "Note: ...") or, when it names an API object (``.. class:: Client``), a heading for its body.
CODE_DIRECTIVES = frozenset({
    "code-block", "code", "sourcecode", "doctest", "testcode", "testoutput", "testsetup", "testcleanup",
    "parsed-literal", "ipython", "jupyter-execute", "math",
    "console", "prompt",  # Django's shell sessions (its djangodocs extension), sphinx-prompt's commands
})
HIDDEN_DIRECTIVES = frozenset({
    "toctree", "contents", "image", "figure", "currentmodule", "module", "highlight", "index", "include",
    "raw", "literalinclude", "tabularcolumns", "attributetable", "autosummary", "meta", "role", "default-role",
    "rst-class", "container", "only", "sectionauthor", "moduleauthor", "codeauthor", "program", "option",
    "exception_hierarchy", "table", "list-table", "csv-table", "cssclass", "class-attributes", "title",
    "replace", "unicode", "date",  # substitution definitions: ".. |name| replace:: text"
    "grid", "grid-item", "tab-set", "tabs", "card-carousel", "div",  # layout only (sphinx-design, sphinx-tabs)
})
ADMONITIONS = {
    "note": "Note", "warning": "Warning", "tip": "Tip", "hint": "Hint", "important": "Important",
    "caution": "Caution", "danger": "Danger", "attention": "Attention", "error": "Error", "seealso": "See also",
    "todo": "To do", "admonition": "", "versionadded": "New in version", "versionchanged": "Changed in version",
    "deprecated": "Deprecated since version", "versionremoved": "Removed in version", "rubric": "",
}
BUILD_ONLY_CONTENT = frozenset({"toctree", "autosummary", "index", "meta", "tabularcolumns"})
KNOWN_DIRECTIVES = CODE_DIRECTIVES | HIDDEN_DIRECTIVES | BUILD_ONLY_CONTENT | ADMONITIONS.keys()
# Statements that make a directive's body code rather than words: a bare name or constant parses as Python too.
_CODE_STATEMENTS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
                    ast.AugAssign, ast.AnnAssign, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While,
                    ast.If, ast.Try, ast.Return)

# A directive may open a list item ("*   .. autoclass:: Choice"): docutils reads it there too.
# "::" ends the name before a space or the line's end, as docutils reads it: ".. versionadded::4.2" is a comment.
_DIRECTIVE_NAME = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+)?\.\.\s+(?:\|[^|]+\|\s+)?([\w:.+-]+)::(?=\s|$)", re.M)
_ROLE_NAME = re.compile(r":([\w:.+-]+):`|`:([\w:.+-]+):")
_EXPLICIT = re.compile(r"^(\s*)\.\.(?:\s+(.*))?$")
_TARGET_OR_SUBST = re.compile(r"^(?:_[^:]*:|__\s|\|[^|]+\|\s|\[[^\]]+\]\s)")
_ANON_TARGET = re.compile(r"^\s*__\s+\S")
_ROLE = re.compile(r":([\w:.+-]+):`([^`]+)`")
# reST also lets the role follow its text ("the `worker <guide-workers>`:ref:"), as Celery's docs write it.
_ROLE_AFTER = re.compile(r"(?<!`)`([^`]+)`:([\w:.+-]+):(?![\w`])")
_TITLED = re.compile(r"^(.*?)\s*<([^<>]+)>$")
_ROLE_OPEN = re.compile(r":[\w:.+-]+:`[^`]*$")  # a role whose text a line break cuts: it goes on below
_ROLE_CLOSE = re.compile(r"^[^`]*`(?!`)")  # the rest of that role on the next line, to its closing backtick
# The end of a role written after its text, and the role, on the line below the one its text starts on.
_ROLE_AFTER_CLOSE = re.compile(r"^[^`]*`:[\w:.+-]+:(?![\w`])")
_PUNCTUATION = re.compile(r"[.,;:!?)]+")
_LINK = re.compile(r"`([^`<]+?)\s*(?:<[^<>`]+>)?`__?")
# Emphasis and strong emphasis ("*not*", "**REMOVED**"), by docutils' inline markup rules: the marks follow
# the line's start, a space or an opening mark and come before a non-space, and the closing mark follows a
# non-space and comes before the end, a space or punctuation ("*args, **kwargs" and "2 * 3" are no emphasis).
_EMPHASIS = re.compile(r"(?<![\w*\\`|])(\*\*?)(?=[^\s*])(.+?)(?<=[^\s\\*])\1(?![\w*`|])")
# Interpreted text with a title and a target but no role ("like `RabbitMQ <broker-amqp>`"): the project's
# default role (Sphinx's ``default_role``, often "any") makes it a cross-reference, and a reader sees its title.
_DEFAULT_ROLE_TITLED = re.compile(r"(?<![`\w:])`([^`<]+?)\s+<[^<>`]+>`(?![`_:\w])")
_LITERAL = re.compile(r"``(.+?)``")
_ESCAPE = re.compile(r"\\(.)")  # "\?" reads "?": a backslash escapes markup outside literals
_TRANSITION = re.compile(r"^([!-/:-@\[-`{-~])\1{3,}\s*$")  # docutils: four or more of one punctuation mark
_TABLE_RULE = re.compile(r"^\s*(?:[=+\-|: ]*[=\-]{3,}[=+\-|: ]*)$")
# A field: file-wide metadata above the first title (":orphan:"), or a field list in the body (":release-date:
# 2010-06-30", pytest's ":Exit code 0: All tests ... passed"), a two-column table in the built page.
_FIELD = re.compile(r"^:([\w -]+):(?:\s+(.*))?$")
_SUBSTITUTIONS_ONLY = re.compile(r"^(?:\|[^|]+\|\s*)+$")  # "|version|", "|today|": Sphinx's conf.py sets them
# A grid table: a "+----+----+" border, then rows between "|" borders (a cell's text wrapped over several rows).
_GRID_BORDER = re.compile(r"^\s*\+(?:[-=]+\+)+\s*$")
_GRID_ROW = re.compile(r"^\s*\|.*\|\s*$")
# Sphinx's info fields in an API object's body, shown under labels ("Parameters", "Return type"), not as
# ":rtype: bool": the reader's words are what is embedded and matched.
_INFO_FIELD = re.compile(r"^:(\w+)(?:\s+([^:]+?))?:(?:\s+(.*))?$")
INFO_FIELDS = {
    "param": "Parameter", "parameter": "Parameter", "arg": "Parameter", "argument": "Parameter", "key": "Parameter",
    "keyword": "Parameter", "kwarg": "Parameter", "kwparam": "Parameter", "type": "Type", "raises": "Raises",
    "raise": "Raises", "except": "Raises", "exception": "Raises", "returns": "Returns", "return": "Returns",
    "rtype": "Return type", "yields": "Yields", "yield": "Yields", "ytype": "Yield type", "var": "Variable",
    "ivar": "Variable", "cvar": "Variable", "vartype": "Variable type", "value": "Value",
}
_FUNCTION_ROLES = frozenset({"func", "meth", "py:func", "py:meth"})
_ISSUE_ROLES = frozenset({"issue", "pr", "pull", "gh", "ghissue", "ghpull", "bug"})  # shown as "#123", as extlinks do

_LOCK = threading.Lock()  # docutils keeps its directive and role registries in module globals


# Lines only reST writes: a directive (".. note::", ".. code-block:: python"), a target (".. _install:"), a
# substitution (".. |br| raw::"), a role (":ref:`install`") or an inline literal ("``pip``"). They tell a
# reST ".txt" (Django's docs) from AsciiDoc and plain text (``formats.sniffed``).
SIGNATURE = re.compile(r"^\s*\.\. (?:[\w-]+(?::[\w-]+)?::(?:\s|$)|_[^:`]+:|\|[^|]+\|)"
                       r"|:[\w-]+(?::[\w-]+)?:`[^`]+`|``[^`\s][^`]*``")


def is_rst(source: str) -> bool:
    """Whether a file is read as reStructuredText, by its name."""
    return source.lower().endswith(RST_SUFFIXES)


_LABEL_GAPS = re.compile(r"[_\-]+")
_UP = re.compile(r"^(?:\.{0,2}/)+")  # a page path's leading "/", "./" and "../"


def role_text(role: str, target: str) -> str:
    """What Sphinx shows for ``:role:`target```: an explicit title, else the target (``~`` keeps its last part,
    a leading ``.`` or ``!`` is dropped), with ``()`` after a function or method as Sphinx adds it."""
    target = " ".join(target.split())  # a role's text may run over lines: its title too
    if role in _ISSUE_ROLES and target.isdigit():
        return f"#{target}"
    titled = _TITLED.match(target)
    if titled and titled.group(1):
        return titled.group(1)
    text = titled.group(2) if titled else target
    if role in ("ref", "doc") and (title := xref.title_for(role, text)):
        return title  # the title of the section or page, as Sphinx shows it, found in the folder (xref.py)
    if role == "ref":
        # A label the folder does not define (an intersphinx one, or a page read alone): its words, as the
        # label spells them, read better and search better than the label itself ("intents_primer" ->
        # "intents primer"). An intersphinx prefix ("py:") goes.
        return _LABEL_GAPS.sub(" ", text.rsplit(":", 1)[-1]).strip() or text
    if role == "doc":
        # A page the folder lacks: its path without what leads it up or into another project ("../faq" and
        # "py:tutorial/venv" read "faq" and "tutorial/venv").
        return _UP.sub("", text.rsplit(":", 1)[-1]) or text
    short = text.startswith("~")
    text = text.lstrip("~!.")
    if short:
        text = text.rsplit(".", 1)[-1]
    if role in _FUNCTION_ROLES and not text.endswith(")"):
        text += "()"
    return text


def admonition_text(name: str, argument: str) -> str:
    """What a reader sees for an admonition's marker line: its label and its argument ("Note: Title",
    "New in version 2.0"); an unknown name is its own label ("details" -> "Details")."""
    label = ADMONITIONS.get(name, name.replace("-", " ").capitalize())
    joiner = " " if label.endswith("version") else ": "
    return f"{label}{joiner}{argument}" if label and argument else label or argument


def inline_text(line: str) -> str:
    """A line's words as a reader sees them: roles resolved, link targets and literal markers dropped."""
    line = _ROLE.sub(lambda m: role_text(m.group(1), m.group(2)), line)
    line = _ROLE_AFTER.sub(lambda m: role_text(m.group(2), m.group(1)), line)
    line = _LINK.sub(lambda m: m.group(1), line)
    parts = _LITERAL.split(line)  # text, literal, text, ...: escapes mean nothing inside a literal
    line = "".join(
        f"`{part}`" if i % 2 else _ESCAPE.sub(r"\1", _EMPHASIS.sub(r"\2", _DEFAULT_ROLE_TITLED.sub(r"\1", part)))
        for i, part in enumerate(parts)
    )
    if line.rstrip().endswith("::"):  # "Example::" reads "Example:", "as below: ::" reads "as below:"
        head = line.rstrip()[:-2]
        line = head if head.endswith((" ", ":")) or not head.strip() else head + ":"
        line = line.rstrip()
    return line


@dataclass
class _Directive:
    name: str
    line: int  # 0-based line of ``.. name::``
    body: int  # 0-based first line of its content (the directive line itself for an inline admonition)
    end: int  # 0-based line after its content
    argument: str


@dataclass
class _Found:
    directives: list[_Directive] = field(default_factory=list)


def _parse(text: str, found: _Found, names: set[str], role_names: set[str]) -> Any:
    """The docutils tree of ``text``, with permissive handlers recording every directive into ``found``."""
    import docutils.frontend
    import docutils.utils
    from docutils import nodes
    from docutils.parsers.rst import Directive, Parser, directives, roles

    class AnyOption(dict[str, Any]):
        """Every option is accepted and kept as text: Sphinx directives have options docutils never heard of."""

        def __getitem__(self, key: str) -> Any:
            return directives.unchanged

        def __contains__(self, key: object) -> bool:
            return True

    class Recorder(Directive):
        has_content = True
        optional_arguments = 99
        final_argument_whitespace = True
        option_spec = AnyOption(name=directives.unchanged)  # not empty: docutils skips options for an empty spec

        def run(self) -> list[Any]:
            # Without content, the directive's own lines (its arguments and options) are its whole block.
            span = len(self.block_text.rstrip("\n").split("\n"))
            body = self.content_offset if self.content else self.lineno - 1 + span
            name = self.name.lower().split(":")[-1]
            found.directives.append(
                _Directive(name, self.lineno - 1, body, self.content_offset + len(self.content),
                           " ".join(self.arguments))
            )
            if name in CODE_DIRECTIVES or name in BUILD_ONLY_CONTENT or not self.content:
                return []
            node = nodes.container()
            self.state.nested_parse(self.content, self.content_offset, node)
            return [node]

    class Admonition(Recorder):
        """An admonition's words start on its own line (``.. note:: Text``): there is no argument to take."""

        optional_arguments = 0

        def run(self) -> list[Any]:
            return Recorder.run(self)

    def role(name: str, rawtext: str, text: str, lineno: int, inliner: Any,
             options: Any = None, content: Any = None) -> tuple[list[Any], list[Any]]:
        return [nodes.Text(role_text(name.lower(), text))], []

    # docutils looks names up lower-cased (".. Important::" is "important"): registered as written, a capitalized
    # name was never found, and docutils' own directive ran unrecorded.
    for name in {name.lower() for name in names}:
        short = name.split(":")[-1]
        directives.register_directive(name, Admonition if short in ADMONITIONS and short not in ("rubric", "admonition")
                                     else Recorder)
    for name in {name.lower() for name in role_names}:
        roles.register_local_role(name, role)
    settings = docutils.frontend.get_default_settings(Parser)  # type: ignore[attr-defined]
    settings.report_level = 5  # nothing is printed: a docs folder's warnings are not the user's problem here
    settings.halt_level = 5  # no warning or error stops the parse
    settings.file_insertion_enabled = False  # an indexed file never makes docutils read another file
    settings.raw_enabled = False
    settings.warning_stream = False
    document = docutils.utils.new_document("<rst>", settings)
    Parser().parse(text, document)
    return document


def parse_tree(lines: Sequence[str]) -> tuple[Any, _Found]:
    """The docutils tree of a file and its directives; raises whatever docutils raises."""
    text = "\n".join(line.replace("\r", " ") for line in lines)
    found = _Found()
    names = set(_DIRECTIVE_NAME.findall(text))
    role_names = {before or after for before, after in _ROLE_NAME.findall(text)}
    with _LOCK:
        tree = _parse(text, found, names, role_names)
    return tree, found


def rst_structure(lines: Sequence[str]) -> list[LineInfo]:
    """Per-line structure of a reST document given as its lines (``lines[i]`` is line ``i + 1``)."""
    from docutils import nodes

    n = len(lines)
    tree, found = parse_tree(lines)
    is_heading = [False] * n
    markup = [False] * n
    text: list[str | None] = [None] * n
    code_block: list[int | None] = [None] * n
    blocks = 0

    def code(start: int, end: int) -> None:
        nonlocal blocks
        for k in range(max(start, 0), min(end, n)):
            code_block[k] = blocks
        blocks += 1

    starts: list[tuple[int, int, str]] = []
    for node in tree.findall(lambda x: isinstance(x, nodes.title | nodes.literal_block | nodes.doctest_block)):
        if node.line is None:
            continue
        if isinstance(node, nodes.title):
            if not isinstance(node.parent, nodes.section):
                continue
            under = node.line - 1  # docutils reports a section title at its underline
            title = under - 1
            if not 0 <= title < n or not is_adornment(lines[under]):
                continue
            depth = sum(1 for _ in _ancestors(node.parent, nodes.section))
            starts.append((title, depth, " ".join(node.astext().split())))
            is_heading[title] = is_heading[under] = True
            markup[under], text[under] = True, ""
            if title > 0 and lines[title - 1].strip() == lines[under].strip():
                starts[-1] = (title - 1, depth, starts[-1][2])
                is_heading[title - 1], markup[title - 1], text[title - 1] = True, True, ""
        else:  # a "::" literal block or a ">>>" doctest block, each reported at its first line
            first = node.line - 1
            code(first, first + node.rawsource.count("\n") + 1)
    starts.sort()
    suffixes: list[list[str]] = [[] for _ in range(n)]
    for d in sorted(found.directives, key=lambda d: d.line):
        if not 0 <= d.line < n:
            continue
        head = range(d.line, d.body) if d.body > d.line else range(d.line, d.line + 1)
        for k in head:
            markup[k] = True
            text[k] = ""
        if d.name in CODE_DIRECTIVES or (d.name not in KNOWN_DIRECTIVES and _is_code(lines[d.body:d.end])):
            code(d.body, d.end)
            continue
        if d.name in BUILD_ONLY_CONTENT:
            for k in range(d.body, min(d.end, n)):
                markup[k], text[k] = True, ""
        if d.name in ADMONITIONS:
            inline = inline_text(_after_marker(lines[d.line]))
            text[d.line] = admonition_text(d.name, inline)
            markup[d.line] = not inline or d.name in ("admonition", "rubric")
            is_heading[d.line] = d.name == "rubric"
        elif d.name not in HIDDEN_DIRECTIVES:
            # An API object (class, function, attribute, autodoc): its signature heads its body.
            name = d.argument.split("(")[0].strip()
            text[d.line] = inline_text(d.argument) if d.argument else ""
            is_heading[d.line] = bool(name)
            if name:
                for k in range(d.line, min(max(d.end, d.line + 1), n)):
                    suffixes[k].append(name)
    grid = _grid_lines(lines, code_block)
    _line_markup(lines, code_block, markup, text, starts, grid)
    _substitute(lines, code_block, text)
    paths = heading_paths(starts, n)
    headings = [with_objects(p, s) for p, s in zip(paths, suffixes)]
    in_table = [k in grid for k in range(n)]
    return [LineInfo(*facts) for facts in zip(headings, is_heading, code_block, [False] * n, markup, text, in_table,
                                              strict=True)]


# ".. |commands| replace:: [:ref:`ext.commands <discord_ext_commands>`]" and where the page uses it, "|commands|"
# (or "|commands|_", also a link). Read from the lines: the permissive directives parse_tree registers take the
# place of docutils' own "replace", so its tree holds no substitution definitions.
_SUBSTITUTION = re.compile(r"^\.\. \|([^|]+)\|\s+replace::\s*(.*?)\s*$")
_SUBSTITUTION_REF = re.compile(r"\|([^|\s][^|]*)\|(?:__?)?")


def _substitute(lines: Sequence[str], code_block: Sequence[int | None], text: list[str | None]) -> None:
    """Substitutions the page defines read as their replacement text, as Sphinx shows them ("|commands| Fix"
    reads "[ext.commands] Fix"); one it does not define (Sphinx's "|version|", conf.py's) stays as written, as
    does one inside a literal or a code block."""
    defined = {m.group(1): inline_text(m.group(2)).strip() for line in lines if (m := _SUBSTITUTION.match(line))}
    if not defined:
        return
    for k, line in enumerate(lines):
        shown = text[k]
        if shown is None:
            shown = line
        if code_block[k] is not None or "|" not in shown:
            continue
        parts = shown.split("`")  # reader text shows a literal in single backticks: its odd parts
        replaced = "`".join(
            part if i % 2 else _SUBSTITUTION_REF.sub(lambda m: defined.get(m.group(1), m.group()), part)
            for i, part in enumerate(parts)
        )
        if replaced != shown:
            text[k] = replaced


def _field_text(line: str) -> str | None:
    """An info field as Sphinx labels it (":type name: int" reads "Type name: int"); None for other lines."""
    m = _INFO_FIELD.match(line)
    if not m or m.group(1).lower() not in INFO_FIELDS:
        return None
    label = INFO_FIELDS[m.group(1).lower()]
    name = f" {inline_text(m.group(2))}" if m.group(2) else ""
    rest = inline_text(m.group(3) or "")
    return f"{label}{name}: {rest}" if rest else f"{label}{name}"


# A shell or interpreter prompt opening a directive's body: "$ pip install", ">>> x", "PS C:\\> dir", "C:\\> dir".
_PROMPT = re.compile(r"^(?:\$|%|>>>|PS [^>]*>|[A-Za-z]:\\[^>]*>)\s")


def _is_code(body: Sequence[str]) -> bool:
    """Whether a project's own directive shows code: Python, or a session at a shell's or interpreter's prompt."""
    first = next((line.strip() for line in body if line.strip()), "")
    return bool(_PROMPT.match(first)) or _is_python(body)


def _is_python(body: Sequence[str]) -> bool:
    """Whether a directive's body is Python code: a project's own example directive (``.. click:example::``,
    matplotlib's ``.. plot::``) shows code that a reader should see as code, with its indentation."""
    source = textwrap.dedent("\n".join(body)).strip()
    if not source:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "invalid escape sequence" in a prose-like body is not our business
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(node, _CODE_STATEMENTS) or isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
               for node in tree.body)


def is_adornment(line: str) -> bool:
    """A section underline or overline: one punctuation character repeated (a short title's may be short)."""
    mark = line.rstrip()
    return bool(mark) and len(set(mark)) == 1 and _is_mark(mark[0])


def _is_mark(char: str) -> bool:
    """Whether ``char`` may adorn a title: neither a letter or digit nor a space."""
    return bool(char) and not char.isalnum() and not char.isspace()


# ".. _install:" (and ".. _`odd: label`:") names what follows; ".. _name: https://..." is a link, not a label.
_LABEL = re.compile(r"^\.\. _(`[^`]+`|[^:`_][^:`]*):\s*$")
# An underline as short as this is a title's even under a longer title, as docutils reads it (it warns); a
# shorter one under a longer line is text ("Note\n::" is no title).
_SHORT_UNDERLINE = 4


def targets(lines: Sequence[str]) -> xref.Targets:
    """The page's title (its first section's) and, for each label written just above a section title, that
    title, as reader text: what ``:doc:`` and ``:ref:`` to this page show (``xref.py``).

    Read from the lines alone, not by docutils: every page of the folder, the unchanged ones too, is read for
    this in each run that reads any page, and a title is two lines (three with an overline) that docutils
    reads the same way."""
    title = ""
    labels: dict[str, str] = {}
    waiting: list[str] = []  # labels read, for the next title
    marks = [_is_mark(line[:1]) for line in lines]  # the cheap test first: an adornment's first character
    for k, line in enumerate(lines):
        label = _LABEL.match(line) if line.startswith(".. _") else None
        if label:
            waiting.append(label.group(1).strip("`"))
            continue
        if not line.strip():
            continue
        words = _section_title(lines, k) if marks[k] or (k + 1 < len(lines) and marks[k + 1]) else None
        if words is not None:
            shown = inline_text(words).strip()
            title = title or shown
            labels.update((name, shown) for name in waiting)
        waiting = []
    return xref.Targets(title, labels)


def _section_title(lines: Sequence[str], k: int) -> str | None:
    """The words of the section title that starts at line ``k`` (an overline's, or an underlined line's),
    or None. A title follows a blank line, a label or nothing, as in a page's sections."""
    if k and lines[k - 1].strip() and not _LABEL.match(lines[k - 1]):
        return None
    line = lines[k]
    if is_adornment(line):
        if k + 2 < len(lines) and lines[k + 1].strip() and lines[k + 2].rstrip() == line.rstrip():
            return lines[k + 1].strip()
        return None
    if line[:1].isspace() or k + 1 >= len(lines) or not is_adornment(lines[k + 1]):
        return None
    under = lines[k + 1].rstrip()
    return line.strip() if len(under) >= min(len(line.strip()), _SHORT_UNDERLINE) else None


def _ancestors(node: Any, kind: type) -> list[Any]:
    out = []
    while node is not None:
        if isinstance(node, kind):
            out.append(node)
        node = node.parent
    return out


def _after_marker(line: str) -> str:
    """The words after ``.. name::`` on a directive's line."""
    return line.split("::", 1)[1].strip() if "::" in line else ""


def _body_field_text(line: str) -> str | None:
    """A field of a field list as the built page shows it (":Exit code 0: All tests passed" reads "Exit code 0:
    All tests passed"); "" for one whose value only the build fills in (":Release: |version|"); None for
    other lines."""
    m = _FIELD.match(line)
    if not m:
        return None
    value = m.group(2) or ""
    if _SUBSTITUTIONS_ONLY.match(value):
        return ""
    return f"{m.group(1)}: {inline_text(value)}" if value else f"{m.group(1)}:"


def _grid_lines(lines: Sequence[str], code_block: Sequence[int | None]) -> set[int]:
    """The lines of grid tables: a "+---+" border, then its "|" rows and borders, up to the line that is neither."""
    table: set[int] = set()
    open_table = False
    for k, line in enumerate(lines):
        if code_block[k] is not None:
            open_table = False
        elif _GRID_BORDER.match(line):
            open_table = True
            table.add(k)
        elif open_table and _GRID_ROW.match(line):
            table.add(k)
        else:
            open_table = False
    return table


def _joined_inline(lines: Sequence[str], code_block: Sequence[int | None]) -> list[str]:
    """The lines with the inline markup that a line break cuts read as a reader sees it. A role (":doc:`cache
    documentation" over "</topics/cache>` for details") is whole on the line it starts on and gone from the
    next: a reader sees its text where it starts ("see the cache documentation" over "for details"), never its
    target. A literal ("``IntegrityError:" over "FOREIGN KEY constraint failed``") reads as literals do, in
    single backticks, its words on their own lines."""
    out = list(lines)
    for k in range(len(out) - 1):
        if code_block[k] is not None or code_block[k + 1] is not None:
            continue
        close = None
        if _ROLE_OPEN.search(out[k]):
            close = _ROLE_CLOSE.match(out[k + 1])
        elif out[k].replace("``", "").count("`") % 2:  # a backtick left open: the text starts here
            close = _ROLE_AFTER_CLOSE.match(out[k + 1])
        if close:
            rest = out[k + 1][close.end():]
            stop = rest.strip() if _PUNCTUATION.fullmatch(rest.strip()) else ""  # "`." ends the sentence above
            out[k] = f"{out[k].rstrip()} {close.group().strip()}{stop}"
            out[k + 1] = "" if stop else rest
        if out[k].count("``") % 2 and out[k + 1].count("``") % 2:
            head, _, tail = out[k].rpartition("``")
            out[k] = f"{head}`{tail}"
            out[k + 1] = out[k + 1].replace("``", "`", 1)
    return out


def _line_markup(
    lines: Sequence[str], code_block: list[int | None], markup: list[bool], text: list[str | None],
    starts: list[tuple[int, int, str]], grid: set[int],
) -> None:
    """What one line says by itself: comments and targets are hidden, roles read as their text."""
    first_title = starts[0][0] if starts else len(lines)
    joined = _joined_inline(lines, code_block)
    comment_indent = -1  # the indentation of an open comment's ".." (-1: none open)
    for k, line in enumerate(lines):
        if code_block[k] is not None:
            comment_indent = -1
            continue
        indent = len(line) - len(line.lstrip())
        if comment_indent >= 0 and (not line.strip() or indent > comment_indent):
            markup[k], text[k] = True, ""
            continue
        comment_indent = -1
        if text[k] is not None:
            continue
        explicit = _EXPLICIT.match(line)
        if explicit and not _DIRECTIVE_NAME.match(line):
            rest = explicit.group(2) or ""
            markup[k], text[k] = True, ""
            if not _TARGET_OR_SUBST.match(rest) or rest.startswith("["):  # a comment, or a footnote's text
                if rest.startswith("["):
                    markup[k], text[k] = False, inline_text(rest.split("]", 1)[1].strip())
                else:
                    comment_indent = len(explicit.group(1))
        elif _ANON_TARGET.match(line) or (k < first_title and _FIELD.match(line)):
            markup[k], text[k] = True, ""  # an anonymous target, or file-wide metadata such as ":orphan:"
        elif line.strip() == "::" or _TRANSITION.match(line.strip()) or _TABLE_RULE.match(line):
            markup[k], text[k] = True, ""  # a transition, a table's rule, a bare literal-block marker
        elif k in grid:  # a row: its border lines are table rules, above
            text[k] = table_row_text(joined[k], inline_text)
        else:
            # Indentation in reST is structure (a directive's body, a definition), not something a reader sees.
            field_text = _field_text(joined[k].strip())
            if field_text is None:
                field_text = _body_field_text(joined[k].strip())
            shown = inline_text(joined[k]).strip() if field_text is None else field_text
            if shown != line:
                text[k] = shown
                markup[k] = markup[k] or field_text == ""

"""What each line of a file is, whatever its format: one home for the per-line facts the chunker reads.

Citations point at the file's own line numbers, so every format is read into one ``LineInfo`` per line of
the file on disk, never into a re-flowed text; ``formats.line_structure`` picks the reader by the file's name.
Each format has its module beside this one:
``markdown`` (markdown-it-py, with the MkDocs/Material, Docusaurus and MyST extensions), ``rst`` (docutils),
``html`` (the standard library's HTML parser), ``asciidoc`` (line by line, as its grammar is), ``notebook``
(Jupyter's JSON, its cells read as Markdown) and ``code`` (Python's ``ast``/``tokenize``, comment patterns for
other languages). Anything else (plain text, data files) has no structure: every line is ``PLAIN``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

PATH_SEPARATOR = " > "


@dataclass(frozen=True)
class LineInfo:
    """The structure of one line (the line ``i + 1`` of the file is ``infos[i]``)."""

    heading: str = ""  # heading path above and including this line, outermost first
    is_heading: bool = False  # a heading line (Markdown ATX/setext, reST title, HTML <hN>), underlines included
    code_block: int | None = None  # which code block (counted from 0) holds this line, fences included
    front_matter: bool = False  # YAML between ``---`` lines at the very top of a Markdown file
    # Markup only (an admonition marker, a directive, an include, a table rule): context a passage may show,
    # never the line that answers.
    markup: bool = False
    # What a reader sees on this line when it differs from the raw line (None: the raw line). An empty
    # string is a line a reader never sees (a section underline, a script, a tag-only line): not chunked.
    text: str | None = None
    # A line of a table (Markdown's pipe tables, reST's grid tables): its rows and the rules between them are one
    # block, so a hidden rule does not part the header row from the rows (``chunker._starts_paragraph``).
    in_table: bool = False


PLAIN = LineInfo()


def reader_text(line: str, info: LineInfo) -> str:
    """The line as a reader sees it: what is embedded, stored and shown (its line number is unchanged)."""
    return line if info.text is None else info.text


_CELL_BORDER = re.compile(r"(?<!\\)\|")  # a pipe that is not escaped ("\\|" is a pipe inside a cell)
CELL_SEPARATOR = " | "  # between a table row's cells in its reader text


def table_row_text(row: str, read: Callable[[str], str]) -> str:
    """A table row as a reader sees it: each cell read by ``read`` (the format's inline markup), " | " between
    them, without the outer pipes and the padding that lines the columns up in the source (Markdown's pipe
    tables, reStructuredText's grid tables). Cells are split before they are read, so an escaped pipe stays in
    its cell; an empty cell is left out, so a grid table's continuation row reads as the words it adds."""
    cells = (read(cell).strip() for cell in _CELL_BORDER.split(row.strip().strip("|")))
    return CELL_SEPARATOR.join(cell.replace("\\|", "|") for cell in cells if cell)


def with_objects(path: str, objects: Sequence[str]) -> str:
    """A section's path with the API objects a line is inside (reST ``.. class::``, Sphinx HTML's
    ``<dl class="py class">``), outermost first, each one named once: a section titled ``Client`` that
    documents ``.. autoclass:: Client`` is one level, not two."""
    parts = path.split(PATH_SEPARATOR) if path else []
    for name in objects:
        if not parts or parts[-1] != name:
            parts.append(name)
    return PATH_SEPARATOR.join(parts)


def heading_paths(starts: Sequence[tuple[int, int, str]], n: int) -> list[str]:
    """The heading path of each of ``n`` lines, from each heading's (first 0-based line, level, title) in order.

    A heading closes every open section at its level or deeper; an empty title names nothing. Lines above
    the first heading have no path.
    """
    paths = [""] * n
    stack: list[tuple[int, str]] = []
    for (start, level, title), stop in zip(starts, [s for s, _, _ in starts[1:]] + [n]):
        stack = [(lvl, t) for lvl, t in stack if lvl < level] + [(level, title)]
        paths[start:stop] = [PATH_SEPARATOR.join(t for _, t in stack if t)] * (stop - start)
    return paths

"""What each line of a Jupyter notebook (``.ipynb``) is: its cells' text on the JSON lines that hold it.

A notebook is JSON, and as Jupyter writes it (nbformat 4, indented) every line of a cell's source is one
string of its own on one line of the file: ``"Install the crane with pip.\\n",``. So the notebook is read with
the ``json`` module, each source line found again on its line of the file, and the cells put together as
one Markdown document (a code cell as a fenced block in the kernel's language) that ``markdown`` reads:
headings in one cell head the cells below them. The file's own line numbers stay the citations; the JSON
around the text (brackets, metadata, outputs, base64 images) is never seen.

A notebook that is not nbformat 4 JSON, or whose source lines cannot all be placed (a writer that puts a
cell's source in one string), is read as plain text, as any parser failure is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from .markdown import markdown_structure
from .structure import PLAIN, LineInfo

NOTEBOOK_SUFFIXES = (".ipynb",)
HIDDEN = LineInfo(markup=True, text="")
SOURCE_KEY = '"source":'


def is_notebook(source: str) -> bool:
    """Whether a file is read as a Jupyter notebook, by its name."""
    return source.lower().endswith(NOTEBOOK_SUFFIXES)


def _language(notebook: dict) -> str:
    meta = notebook.get("metadata") or {}
    for key in ("language_info", "kernelspec"):
        value = meta.get(key) if isinstance(meta, dict) else None
        name = value.get("name" if key == "language_info" else "language") if isinstance(value, dict) else None
        if isinstance(name, str) and name.isidentifier():
            return name
    return "python"


def _source_lines(cell: object) -> list[str] | None:
    """A cell's source as nbformat stores it (one string a line), or None when it is not stored so."""
    if not isinstance(cell, dict):
        return None
    source = cell.get("source", [])
    if isinstance(source, str):
        source = [source] if source else []
    if not isinstance(source, list) or not all(isinstance(s, str) and "\n" not in s[:-1] for s in source):
        return None
    return source


def _json_value(line: str) -> str:
    """A line of the file as one JSON value: without its indentation and the comma after it."""
    return line.strip().rstrip(",").strip()


def _literals(piece: str) -> set[str]:
    """How a source line is written in the file: as Jupyter writes it (non-ASCII kept), or escaped."""
    return {json.dumps(piece, ensure_ascii=False), json.dumps(piece)}


def notebook_structure(lines: Sequence[str]) -> list[LineInfo]:
    """Per-line structure of a notebook given as its lines (``lines[i]`` is line ``i + 1``)."""
    n = len(lines)
    try:
        notebook = json.loads("\n".join(lines))
    except ValueError:
        return [PLAIN] * n
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return [PLAIN] * n
    fence = "```" + _language(notebook)
    virtual: list[str] = []  # the cells as one Markdown document
    at: list[int | None] = []  # the file line (0-based) of each virtual line; None for fences and gaps
    cursor = 0
    for cell in cells:
        source = _source_lines(cell)
        if source is None:
            return [PLAIN] * n
        # Each cell's source starts at its "source" key: an output line may repeat a source line's text.
        while cursor < n and not lines[cursor].lstrip().startswith(SOURCE_KEY):
            cursor += 1
        if cursor == n:
            return [PLAIN] * n
        inline = _json_value(lines[cursor].strip()[len(SOURCE_KEY):])
        cursor += 1
        kind = cell.get("cell_type")
        if kind not in ("markdown", "code") or not source:
            continue
        placed = []
        if len(source) == 1 and inline in _literals(source[0]):  # "source": "one line"
            placed.append(cursor - 1)
        else:
            for piece in source:
                literals = _literals(piece)
                while cursor < n and _json_value(lines[cursor]) not in literals:
                    cursor += 1
                if cursor == n:
                    return [PLAIN] * n
                placed.append(cursor)
                cursor += 1
        body = [piece.rstrip("\n").rstrip("\r") for piece in source]
        if kind == "code":
            virtual += [fence, *body, "```", ""]
            at += [None, *placed, None, None]
        else:
            virtual += [*body, ""]
            at += [*placed, None]
    infos = [HIDDEN] * n
    for line, info, k in zip(virtual, markdown_structure(virtual), at, strict=True):
        if k is not None:
            shown = line if info.text is None else info.text
            infos[k] = replace(info, text=shown if shown.strip() else "")
    return infos

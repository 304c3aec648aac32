"""Measure what cited passages show: how many show half a code block, and how many quote raw markup.

    citebot eval QUESTIONS --db DB --hits HITS.jsonl
    .venv/bin/python scripts/measure_shown_passages.py DOCS HITS.jsonl [HITS2.jsonl ...]

DOCS is the folder that was indexed. Every passage of every answer in HITS (``citebot eval --hits`` or
``citebot ask --json`` output, one answer a line) is checked against the file on disk:

- *half a code block*: a code block the passage shows part of, with one of its lines missing from the passage:
  a block cut between chunks, or a line of it left out as a repeat of an earlier one (a block too long to cite
  whole, shown as an excerpt that says where it goes on, ``partial_blocks``, is counted apart). The lines counted are
  those shown as written on disk (reader text equal to the line: code and fences, not an include, whose
  reading changed between versions), so that passages cited by an older version are measured alike;
- *markup quoted*: a line of the passage's text that is the raw syntax of a documentation tool (a directive,
  an include, an admonition or tab marker, an attribute list, a template tag), by the patterns below, unless
  it is a line of a code block as the file is read now (code, fenced or not: reST's indented blocks). An
  include inside a fence is markup: the built page shows the included code there.

The passage's shown lines are found by matching its text, line by line in order, against the reader text of
the lines of its span (the JSON carries the text, not the line numbers).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from pathlib import Path

from citebot.index import xref
from citebot.index.formats import line_structure, targets
from citebot.index.loader import scan
from citebot.index.settings import Settings
from citebot.index.structure import LineInfo, reader_text

# Raw syntax a reader of the built page never sees. Written for this measurement from the markups the
# formats table of docs/guide.md lists; not used by citebot itself, which reads each format's structure.
MARKUP = re.compile(
    r"^\s*(?:\.\.\s+[\w:-]+::|:[\w-]+:(?:\s|$)|--8<--|\{\*|\{!|\{%|\{\{|!!!|\?\?\?|===\s+\"|/{3,}\s*\w|:::|"
    r"\{[:#.][^}]*\}\s*$|\[\]\(\)\{)"
)
def _shown(text: str, numbers: Sequence[int], seen: Sequence[str]) -> set[int]:
    """The line numbers among ``numbers`` whose reader text (``seen``) appears, in order, in ``text``; a piece
    of a line too long for the window counts for its line."""
    shown: set[int] = set()
    at = 0
    for line in text.split("\n"):
        found = next((j for j in range(at, len(seen)) if line and (seen[j] == line or line in seen[j])), None)
        if found is not None:
            shown.add(numbers[found])
            at = found if seen[found] != line else found + 1
    return shown


def folder_titles(docs: Path) -> xref.Titles:
    """The folder's section and page titles, which its cross-references show, found as ``citebot index`` finds
    them (with the default settings' extensions and exclusions)."""
    settings = Settings()
    found = scan(docs, settings.extensions, settings.exclude, settings.follow_symlinks, settings.max_file_bytes)
    return xref.Titles.of((d.source, targets(d.source, d.lines)) for d in found.documents)


def measure(docs: Path, hits_file: Path, titles: xref.Titles | None = None) -> dict[str, int]:
    """The counts for one hits file; each page is read as the indexer reads it, with ``titles``."""
    files: dict[str, tuple[list[str], list[LineInfo]]] = {}
    titles = folder_titles(docs) if titles is None else titles
    counts = {"passages": 0, "half_code_block": 0, "marked_excerpt": 0, "markup_quoted": 0}
    for row in hits_file.read_text(encoding="utf-8").splitlines():
        for hit in json.loads(row).get("hits") or []:
            source = hit["source"]
            if source not in files:
                lines = (docs / source).read_text(encoding="utf-8", errors="replace").splitlines()
                with xref.reading(source, titles):
                    files[source] = (lines, line_structure(source, lines))
            lines, infos = files[source]
            span = range(hit["line_start"], min(hit["line_end"], len(lines)) + 1)
            visible = [n for n in span if reader_text(lines[n - 1], infos[n - 1]).strip()]
            shown = _shown(hit["text"], visible, [reader_text(lines[n - 1], infos[n - 1]) for n in visible])
            blocks = {infos[n - 1].code_block for n in shown} - {None}
            whole = [n for n, info in enumerate(infos, 1) if info.code_block in blocks
                     and lines[n - 1].strip() and reader_text(lines[n - 1], info) == lines[n - 1]]
            counts["passages"] += 1
            missing = [n for n in whole if n not in shown]
            # A block too long to cite whole, shown as an excerpt that says so (``Hit.partial_blocks``).
            marked = [n for n in missing if any(a <= n <= b for a, b in hit.get("partial_blocks", []))]
            counts["half_code_block"] += len(marked) < len(missing)
            counts["marked_excerpt"] += bool(missing) and len(marked) == len(missing)
            code = {reader_text(lines[n - 1], infos[n - 1]) for n in shown if infos[n - 1].code_block is not None}
            counts["markup_quoted"] += _quotes_markup(hit["text"], code)
    return counts


def _quotes_markup(text: str, code: set[str]) -> bool:
    """Whether a line of ``text`` other than the lines of ``code`` is markup."""
    return any(line not in code and MARKUP.match(line) for line in text.split("\n"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("docs", type=Path, help="the folder that was indexed")
    parser.add_argument("hits", type=Path, nargs="+", help="citebot eval --hits output")
    args = parser.parse_args()
    titles = folder_titles(args.docs)
    for hits in args.hits:
        c = measure(args.docs, hits, titles)
        print(f"{hits}: {c['passages']} passages, {c['half_code_block']} show half a code block, "
              f"{c['marked_excerpt']} an excerpt of a block too long to cite (marked as one), "
              f"{c['markup_quoted']} quote markup")


if __name__ == "__main__":
    main()

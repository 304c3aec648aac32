"""Count a folder's cross-references that read as the title they name, as ``citebot index`` reads them.

    .venv/bin/python scripts/measure_references.py DOCS [--misses N]

Each page of DOCS (found with the default settings' extensions and exclusions) is read with the folder's
titles (``xref.reading``), and the references it looks up (``:ref:``, ``:doc:``, MyST's ``{ref}``, ``{doc}``)
are counted once per page: those that found a title, and those that did not (another project's, Sphinx's own
pages, a page outside the folder), the most frequent of which ``--misses`` lists.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from citebot.index import xref
from citebot.index.formats import line_structure, targets
from citebot.index.loader import scan
from citebot.index.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("docs", type=Path, help="the folder to read, as it would be indexed")
    parser.add_argument("--misses", type=int, default=10, help="how many unresolved references to list")
    args = parser.parse_args()
    settings = Settings()
    found = scan(args.docs, settings.extensions, settings.exclude, settings.follow_symlinks, settings.max_file_bytes)
    titles = xref.Titles.of((d.source, targets(d.source, d.lines)) for d in found.documents)
    resolved, misses = 0, Counter[str]()
    for doc in found.documents:
        with xref.reading(doc.source, titles) as refs:
            line_structure(doc.source, doc.lines)
        resolved += sum(1 for title in refs.values() if title)
        misses.update(key for key, title in refs.items() if not title)
    print(f"{args.docs}: {len(found.documents)} pages, {len(titles.pages)} page titles, {len(titles.labels)} "
          f"labels; {resolved} of {resolved + sum(misses.values())} references read as a title")
    for key, count in misses.most_common(args.misses):
        print(f"  unresolved: {key} ({count} pages)")


if __name__ == "__main__":
    main()

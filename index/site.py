"""Which files of a folder are machine-written furniture, not documentation: a built site's assets and source
copies, and minified scripts, styles and data.

A documentation site that Sphinx, MkDocs or another generator built is a folder of HTML pages beside what serves
them: the scripts and styles the pages load (``_static/searchtools.js``, ``assets/javascripts/bundle.js``), the
theme's other files in those folders (licences, stemmers, search workers), the search index, and with Sphinx a
copy of each page's source that the page links to ("Show Source": ``_sources/config.rst.txt``). Indexed, they
took places in answers: on Flask's pages built by Sphinx with Furo, ``_sources/config.rst.txt`` was the first
citation for "what does SECRET_KEY do?" and ``_static/searchtools.js`` all five for "how do I search the docs?"
(issue 10). The pages themselves say which files those are, whatever built them: what they load with
``<script src>`` and ``<link href>``, every file at or below a folder they load from that holds no page, every
script, style or data file beside them, and a
file a page links to that is named after the page, outside the pages' folders, or a text file that mirrors a
page's path in a folder of its own (its source). A folder whose HTML files load nothing of it loses only such
mirrored copies: hand-written pages and a web app's templates keep their folders' code and text.

A search index or a bundle is minified: one line of tens of thousands of characters, which no member wants
cited. A script, style or data file with a line longer than ``MINIFIED_LINE`` is left out wherever it is.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from urllib.parse import unquote

# Attributes that point at another file: a script's src, a link's href (stylesheets, icons, preloads, next and
# previous pages) and an anchor's href. A query or fragment is not part of the file's name.
_REFERENCE = re.compile(r"<(script|link|a)\b[^>]*?\s(?:src|href)\s*=\s*[\"']([^\"'#?]*)", re.IGNORECASE)
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)  # https:, mailto:, data:, //cdn...
LOADED = "a script or style a built site's pages load"
BESIDE = "in a folder a built site's pages load their scripts and styles from"
SOURCE_COPY = "a copy of a built page's source (the page is indexed)"
# A script, style or data file beside a built site's pages (VitePress's hashmap.json, a manifest.json): the
# pages' own, like the ones they load.
BESIDE_PAGES = "a script, style or data file beside a built site's pages"
# Characters on one line beyond which a script, style or data file is machine-written. Hand-written code keeps
# lines under a few hundred characters (formatters wrap at 79 to 120); Sphinx's searchindex.js is one line of
# 25,091 characters for 5 pages, a minified bundle one of 5,000 and more. Set by hand between the two.
MINIFIED_LINE = 2000
MINIFIED_SUFFIXES = (".js", ".mjs", ".css", ".json", ".map")
# What a page's source copy is named: "config.rst.txt" (Sphinx), "config.rst" (the Book theme, no ".txt"). A page
# linking a file of another kind named after it ("lift.py" from "lift.html") links an example, not its source.
SOURCE_SUFFIXES = (".txt", ".rst", ".md", ".markdown", ".mdx", ".ipynb", ".adoc")


def minified(source: str, lines: Sequence[str]) -> str | None:
    """Why a script, style or data file is left out as machine-written, or None."""
    if not source.lower().endswith(MINIFIED_SUFFIXES):
        return None
    longest = max((len(line) for line in lines), default=0)
    return f"minified: a line of {longest:,} characters" if longest > MINIFIED_LINE else None


def furniture(pages: Mapping[str, Sequence[str]], others: Sequence[str]) -> dict[str, str]:
    """Of the indexed folder's files (``pages``: its HTML files and their lines; ``others``: the rest, as relative
    POSIX paths), those the pages show to be a built site's furniture, each with why. A page is a site's page
    when it loads a script or style of the folder; an HTML file that loads none, in a folder the pages load from,
    is the theme's too (PyData's ``_static/webpack-macros.html``)."""
    present = set(others) | set(pages)
    loaded: set[str] = set()
    copies: set[str] = set()
    site_pages: set[str] = set()
    for page, lines in pages.items():
        folder = posixpath.dirname(page)
        name = posixpath.basename(page).rsplit(".", 1)[0]
        for tag, target in _REFERENCE.findall("\n".join(lines)):
            if not target or _EXTERNAL.match(target):
                continue
            # A root-relative reference ("/assets/js/main.js": Docusaurus, Next) is read from the indexed folder,
            # the built site's root when it is the folder indexed; under any other root it names nothing here.
            path = posixpath.normpath(posixpath.join(folder, unquote(target)) if not target.startswith("/")
                                      else unquote(target).lstrip("/"))
            if path not in present or path in pages:
                continue
            if tag.lower() != "a":
                loaded.add(path)
                site_pages.add(page)
            elif posixpath.basename(path).startswith(name + ".") and path.lower().endswith(SOURCE_SUFFIXES):
                copies.add(path)
    page_folders = {posixpath.dirname(page) for page in site_pages}
    asset_folders = {posixpath.dirname(path) for path in loaded} - page_folders
    out = {}
    for path in [*others, *(page for page in pages if page not in site_pages)]:
        if path in loaded:
            out[path] = LOADED
        elif (path in copies and posixpath.dirname(path) not in page_folders) or _mirrors(path, pages):
            out[path] = SOURCE_COPY
        elif _below(posixpath.dirname(path), asset_folders, page_folders):
            out[path] = BESIDE
        elif posixpath.dirname(path) in page_folders and path.lower().endswith(MINIFIED_SUFFIXES):
            out[path] = BESIDE_PAGES
    return out


def _mirrors(path: str, pages: Mapping[str, Sequence[str]]) -> bool:
    """Whether ``path`` is a text copy of a page's source kept in a folder of its own, mirroring the page's path:
    ``_sources/api/x.rst.txt`` for ``api/x.html`` (Sphinx copies them even where no page links them)."""
    if not path.endswith(".txt"):
        return False
    parts = path[: -len(".txt")].split("/")
    stem, dot, _ = parts[-1].rpartition(".")
    if not dot:
        return False
    return any("/".join(parts[:i] + parts[i + 1 : -1] + [stem + ".html"]) in pages for i in range(len(parts) - 1))


def _below(folder: str, asset_folders: set[str], page_folders: set[str]) -> bool:
    """Whether ``folder`` is an asset folder or lies below one, with no folder of pages on the way down."""
    while folder and folder not in page_folders:
        if folder in asset_folders:
            return True
        folder = posixpath.dirname(folder)
    return False

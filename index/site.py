"""Which files of a folder are machine-written furniture, not documentation: a built site's assets and source
copies, minified scripts, styles and data, the templates a site is built from, and the pages it builds that are
not to be found: print copies, search pages and redirects.

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
mirrored copies: hand-written pages keep their folders' code and text (a template is another matter, below).

A search index or a bundle is minified: one line of tens of thousands of characters, which no member wants
cited. A script, style or data file with a line longer than ``MINIFIED_LINE`` is left out wherever it is.

A page template is the theme's code, not a page: Sphinx projects keep Jinja layouts in ``_templates/`` or
``_theme/`` beside their sources (Django's ``docs/_theme/djangodocs/layout.html``), MkDocs ones in
``overrides/``. Read as a page, its navigation words and tags ("« previous", "up", "{{ docstitle }}" as a
heading) were chunks of their own. An HTML file whose lines carry template tags in at least ``TEMPLATE_SHARE``
of them is left out, and so are the scripts and styles at or below its folder: the theme's
(``_theme/djangodocs/static/djangodocs.css``).

A page can say itself that it is not one to be found: ``<meta name="robots" content="noindex">``. Generators
write it on the pages that repeat or lead elsewhere: mdBook on its print page, the whole book again on one page
(in the Rust book, ``print.html`` was the first citation for 14 of the 20 questions of
``bench/heldout/rust-book.jsonl``, with the same passage as the chapter's), Sphinx on its search page, and sites
on the stubs that send an old link to its new page (the Rust book's 59 first-edition pages, "There is a new
edition of the book and this is an old link"). Such a page is left out, unless half of the folder's pages or
more say it: then it is the whole site's word to search engines (an old version's build, a staging copy), not a
page's, and every page is kept.

A page that sends its reader elsewhere at once (``<meta http-equiv="refresh" content="0; url=new/">``) is a
redirect: the browser never shows its "Redirecting..." text. mkdocs-redirects, sphinx-reredirects, Docusaurus'
client redirects and Jekyll's redirect_from write one for each page that moved, and they are left out however
many there are.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from urllib.parse import unquote

from .html import head, is_html

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


# Template tags: Jinja's and Django's "{% block %}", "{{ title }}" and "{# comment #}" (Liquid's and Nunjucks' too).
_TEMPLATE_TAG = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}")
# The share of an HTML file's non-blank lines with a template tag from which it is a template. Measured: 1,162
# built pages (the Python 3.11 docs, five Debian -doc packages, git's, five Sphinx themes' and MkDocs Material
# and VitePress builds) are at most 0.02 (a page about Jinja templates, its examples escaped in <pre>); Django's
# theme templates 0.50 to 1.00, Sphinx's and its themes' 98 templates a median of 0.60, MkDocs Material's 133 a
# median of 0.04 (most are one-line partials: translations, icons) and 0.72 at the 90th percentile.
TEMPLATE_SHARE = 0.1
TEMPLATE = "a page template, not a page (template tags such as {% block %} on a tenth of its lines or more)"
THEME = "a script or style of a theme (in or below a folder of page templates)"
# Directives by which a page asks not to be indexed ("none" is "noindex, nofollow").
NOINDEX = frozenset({"noindex", "none"})
# The share of a folder's pages that, marked, makes the mark the site's rather than the pages' (see above). The
# Rust book's folder in Debian's rust-doc: 60 of its 165 pages (0.36), print page and redirect stubs; a Sphinx
# build, its search page alone. Half: where that many say it, it was said of the site, not of some pages.
UNLISTED_MOST = 0.5
UNLISTED = ("a page that asks not to be indexed (robots noindex), such as a print copy, a search page or an old "
            "link's stub")
REDIRECT = "a page that sends the reader to another at once (meta refresh): a redirect"


def template(source: str, lines: Sequence[str]) -> str | None:
    """Why an HTML file is left out as a page template, or None."""
    if not is_html(source):
        return None
    shown = [line for line in lines if line.strip()]
    tagged = sum(1 for line in shown if _TEMPLATE_TAG.search(line))
    if not shown or tagged < TEMPLATE_SHARE * len(shown):
        return None
    return TEMPLATE


def theme_assets(templates: Sequence[str], others: Sequence[str]) -> dict[str, str]:
    """Of ``others`` (relative POSIX paths), the scripts and styles at or below a folder that holds one of
    ``templates``, each with why: a theme's own."""
    folders = {posixpath.dirname(path) for path in templates}
    return {path: THEME for path in others if path.lower().endswith(MINIFIED_SUFFIXES)
            and _below(posixpath.dirname(path), folders, set())}


def unlisted(pages: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Of ``pages`` (a folder's HTML files and their lines), the redirects and those that ask search engines not
    to index them, each with why; the second kind only when fewer than half of the pages ask it (else it is the
    site's word, not a page's)."""
    heads = {page: head(lines) for page, lines in pages.items()}
    out = {page: REDIRECT for page, h in heads.items() if h.redirect}
    marked = [page for page, h in heads.items() if NOINDEX & h.robots and page not in out]
    if len(marked) < UNLISTED_MOST * len(pages):
        out.update((page, UNLISTED) for page in marked)
    return out


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

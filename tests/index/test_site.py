"""A built documentation site is read as its pages: the scripts, styles and source copies its pages name, and
minified files anywhere, are left out and said so; a folder whose HTML loads nothing loses only mirrored copies."""

from __future__ import annotations

from pathlib import Path

from citebot.index import Engine, HashEmbedder
from citebot.index.cli import skipped_lines
from citebot.index.html import Head, head
from citebot.index.loader import Skipped, scan
from citebot.index.settings import DEFAULT_EXCLUDE, DEFAULT_EXTENSIONS, split_csv
from citebot.index.site import (
    BESIDE,
    BESIDE_PAGES,
    LOADED,
    MINIFIED_LINE,
    REDIRECT,
    SOURCE_COPY,
    TEMPLATE,
    THEME,
    UNLISTED,
)

from .helpers import hash_settings, write_files

EXTS: list[str] = split_csv(DEFAULT_EXTENSIONS)  # type: ignore[assignment]
EXCLUDE: list[str] = split_csv(DEFAULT_EXCLUDE)  # type: ignore[assignment]

PAGE = """<html><head><link rel="stylesheet" href="{up}_static/theme.css?v=1">
<script src="{up}_static/doctools.js"></script><link rel="next" href="{up}index.html"></head>
<body><h1>{title}</h1><p>Cranes lift containers.</p>
<a href="{up}_sources/{src}.rst.txt" rel="nofollow">Show Source</a> <a href="{up}examples/lift.py">example</a>
<a href="https://example.org/x.js">elsewhere</a></body></html>
"""

SITE = {
    "html/index.html": PAGE.format(up="", title="Cranes", src="index"),
    "html/api/lift.html": PAGE.format(up="../", title="lift", src="api/lift"),
    "html/_static/theme.css": "h1 { color: red; }\n",
    "html/_static/doctools.js": "function highlight() {\n  return 1;\n}\n",
    "html/_static/searchtools.js": "// the theme's search, loaded by another script\nfunction search() {}\n",
    "html/_static/scripts/vendor/LICENSE.txt": "MIT licence of a theme's vendored script\n",
    "html/_static/fragment.html": "<div class=\"sidebar\">Contents</div>\n",  # a theme's fragment: loads nothing
    "html/_sources/index.rst.txt": "Cranes\n======\n\nCranes lift containers.\n",
    "html/_sources/api/lift.rst.txt": "lift\n====\n",
    "html/_sources/unlinked.rst.txt": "Not a page's copy: no unlinked.html\n",
    "html/searchindex.js": "Search.setIndex({" + "\"t\":1," * (MINIFIED_LINE // 6) + "})\n",
    "html/examples/lift.py": "crane.lift()\n",  # linked by a page, not named after it: an example
    "html/hashmap.json": '{"index.md": "a1b2"}\n',  # the build's data beside its pages
    "html/robots.txt": "User-agent: *\n",  # text beside the pages is not a script, style or data file
    "notes.md": "# Notes\n\nThe harbour crane is red.\n",
    "app/static/app.js": "export const crane = 1;\n",  # a folder of code with no page loading it
}


def _scan(root: Path) -> tuple[set[str], dict[str, str]]:
    found = scan(root, EXTS, EXCLUDE, False, 2_000_000)
    return {d.source for d in found.documents}, {s.source: s.reason for s in found.skipped}


def test_a_built_site_is_read_as_its_pages(tmp_path: Path) -> None:
    kept, skipped = _scan(write_files(tmp_path / "docs", SITE))
    assert kept == {"html/index.html", "html/api/lift.html", "html/_sources/unlinked.rst.txt",
                    "html/examples/lift.py", "html/robots.txt", "notes.md", "app/static/app.js"}
    assert skipped["html/hashmap.json"] == BESIDE_PAGES
    assert skipped["html/_static/theme.css"] == skipped["html/_static/doctools.js"] == LOADED
    assert skipped["html/_static/searchtools.js"] == BESIDE, "beside what the pages load"
    assert skipped["html/_static/scripts/vendor/LICENSE.txt"] == BESIDE, "below it too"
    assert skipped["html/_static/fragment.html"] == BESIDE, "an HTML file that loads nothing is no page"
    assert skipped["html/_sources/index.rst.txt"] == skipped["html/_sources/api/lift.rst.txt"] == SOURCE_COPY
    assert skipped["html/searchindex.js"].startswith("minified: a line of ")


def test_without_pages_that_load_them_only_mirrored_source_copies_are_left_out(tmp_path: Path) -> None:
    files = {"index.html": "<h1>Cranes</h1>\n", "static/app.js": "let crane = 1;\n",
             "_sources/index.rst.txt": "Cranes\n======\n", "guide.md": "# Guide\n"}
    kept, skipped = _scan(write_files(tmp_path / "docs", files))
    assert kept == {"index.html", "static/app.js", "guide.md"} and set(skipped) == {"_sources/index.rst.txt"}, (
        "a page's source copy is left out by its mirrored name even when no page links it")


def test_a_root_relative_reference_is_read_from_the_indexed_folder(tmp_path: Path) -> None:
    files = {"index.html": '<script src="/assets/js/main.js"></script><h1>Cranes</h1>\n',
             "assets/js/main.js": "run();\n", "assets/js/chunk.js": "more();\n"}
    kept, skipped = _scan(write_files(tmp_path / "docs", files))
    assert kept == {"index.html"} and skipped == {"assets/js/main.js": LOADED, "assets/js/chunk.js": BESIDE}


LAYOUT = """{% extends "basic/layout.html" %}
{%- macro secondnav() %}
  {%- if prev %}<a href="{{ prev.link|e }}">&laquo; previous</a>{{ reldelim2 }}{%- endif %}
  <a href="#top">up</a>
{%- endmacro %}
{% block document %}
<div id="custom-doc"><h1>{{ docstitle }}</h1>
<p>Home {{ reldelim2 }} Table of contents</p>
{% block body %}{% endblock %}
</div>
{% endblock %}
"""


def test_a_page_template_and_its_themes_scripts_and_styles_are_left_out(tmp_path: Path) -> None:
    """Sphinx sources with a theme of their own (Django's docs/_theme): the theme's Jinja layout is its code,
    not a page; a page about templates, its examples in <pre>, is still a page."""
    about = "<h1>Templates</h1>\n<p>Blocks are overridden:</p>\n<pre>{% block body %}{% endblock %}</pre>\n" + (
        "<p>A child template fills the blocks its parent names, and may call the parent's.</p>\n" * 12)
    files = {"_theme/crane/layout.html": LAYOUT, "_theme/crane/static/crane.css": "h1 { color: red; }\n",
             "_theme/crane/static/js/nav.js": "openNav();\n", "_static/custom.css": "p { margin: 0; }\n",
             "topics/templates.html": about, "index.rst": "Cranes\n======\n\nCranes lift.\n"}
    kept, skipped = _scan(write_files(tmp_path / "docs", files))
    assert kept == {"topics/templates.html", "_static/custom.css", "index.rst"}
    assert skipped == {"_theme/crane/layout.html": TEMPLATE, "_theme/crane/static/crane.css": THEME,
                       "_theme/crane/static/js/nav.js": THEME}


def _page(title: str, meta: str = "") -> str:
    return f"<html><head>{meta}<title>{title}</title></head><body><h1>{title}</h1><p>Cranes lift.</p></body></html>\n"


def test_a_page_that_asks_not_to_be_indexed_is_left_out(tmp_path: Path) -> None:
    """mdBook's print page (the whole book again), Sphinx's search page and a redirect stub say so in their head."""
    files = {"ch01.html": _page("Lifting"), "ch02.html": _page("Slewing"), "ch03.html": _page("Booms"),
             "print.html": _page("The crane book", '<meta name="robots" content="noindex" />'),
             "old/lift.html": _page("Lift (old link)", "<META content='NoIndex, follow' NAME='Robots'>"),
             "search.html": _page("Search", '<meta name="robots" content="none">'),
             "about.html": _page("About", '<meta name="description" content="noindex">'),
             "notes.md": '# Notes\n\n<meta name="robots" content="noindex">\n'}
    kept, skipped = _scan(write_files(tmp_path / "docs", files))
    assert kept == {"ch01.html", "ch02.html", "ch03.html", "about.html", "notes.md"}
    assert skipped == {"print.html": UNLISTED, "old/lift.html": UNLISTED, "search.html": UNLISTED}


def test_when_half_the_pages_ask_not_to_be_indexed_every_page_is_kept(tmp_path: Path) -> None:
    """An old version's build, marked noindex on every page so that search engines show the new one: still the
    docs a community may index. Half the pages marked or more is the site's word; one of three is not."""
    noindex = '<meta name="robots" content="noindex">'
    most = {"a.html": _page("A", noindex), "b.html": _page("B", noindex), "c.html": _page("C"), "d.html": _page("D")}
    kept, skipped = _scan(write_files(tmp_path / "most", most))
    assert kept == set(most) and not skipped
    few = {"a.html": _page("A", noindex), "b.html": _page("B"), "c.html": _page("C")}
    kept, skipped = _scan(write_files(tmp_path / "few", few))
    assert kept == {"b.html", "c.html"} and skipped == {"a.html": UNLISTED}


def test_only_the_head_says_what_a_page_asks_of_search_engines_and_where_it_sends_the_reader() -> None:
    assert head(['<head><meta name="robots" content="noindex, nofollow"></head>']) == Head(
        frozenset({"noindex", "nofollow"}), "")
    assert head(["<html><body>", '<p>Write <code>&lt;meta name="robots" content="noindex"&gt;</code>.</p>',
                 '<meta name="robots" content="noindex">']) == Head(frozenset(), ""), "a tag in the body is text"
    assert head(['<head><noscript><meta http-equiv="refresh" content="0; url=../new/lift.html"/></noscript>']
                ).redirect == "../new/lift.html", "sphinx-reredirects writes it in a <noscript>"
    assert head(["<head><META HTTP-EQUIV='Refresh' CONTENT=\"1;URL='new.html'\"></head>"]).redirect == "new.html"
    assert head(['<head><meta http-equiv="refresh" content="30"></head>']).redirect == "", "a reload is no redirect"


def test_a_redirect_is_left_out_however_many_there_are(tmp_path: Path) -> None:
    """mkdocs-redirects writes a "Redirecting..." page (noindex too) for each moved page: here most of them."""
    moved = '<meta name="robots" content="noindex"><meta http-equiv="refresh" content="0; url=../new/">'
    files = {f"old{i}/index.html": _page("Redirecting...", moved) for i in range(3)} | {"new/index.html": _page("Lift")}
    kept, skipped = _scan(write_files(tmp_path / "docs", files))
    assert kept == {"new/index.html"} and skipped == {f"old{i}/index.html": REDIRECT for i in range(3)}


def test_a_long_line_in_prose_or_code_is_not_minified(tmp_path: Path) -> None:
    long_line = "word " * (MINIFIED_LINE // 4)
    files = {"notes.txt": long_line + "\n", "script.py": f"x = '{long_line}'\n", "data.json": long_line + "\n"}
    kept, skipped = _scan(write_files(tmp_path / "docs", files))
    assert kept == {"notes.txt", "script.py"} and skipped["data.json"].startswith("minified")


def test_many_files_left_out_for_one_reason_are_one_line() -> None:
    few = [Skipped(f"a{i}.js", "why") for i in range(5)]
    many = [Skipped(f"_sources/p{i}.rst.txt", SOURCE_COPY) for i in range(120)]
    assert skipped_lines(few) == [f"skipped a{i}.js: why" for i in range(5)]
    assert skipped_lines(many) == [f"skipped 120 files: {SOURCE_COPY} (_sources/p0.rst.txt, _sources/p1.rst.txt, "
                                   "_sources/p2.rst.txt and 117 more)"]


def test_a_page_of_a_built_site_answers_and_its_source_copy_is_never_cited(tmp_path: Path) -> None:
    settings = hash_settings(tmp_path)
    write_files(settings.docs_dir, SITE)
    engine = Engine(settings, HashEmbedder())
    report = engine.index()
    assert {s.source for s in report.skipped} >= {"html/_sources/index.rst.txt", "html/_static/theme.css"}
    answer = engine.ask("Which cranes lift containers?", k=5)
    assert answer.hits and not {h.source for h in answer.hits} & {s.source for s in report.skipped}
    assert answer.hits[0].source in {"html/index.html", "html/api/lift.html"}, "a page, not its source copy"


def test_a_books_print_copy_is_never_cited_and_its_chapter_is(tmp_path: Path) -> None:
    """mdBook's print.html repeats every chapter; the member is sent to the chapter, never to the copy."""
    settings = hash_settings(tmp_path)
    chapter = "<h1>Booms</h1><p>A telescopic boom extends in sections to reach the upper deck.</p>"
    write_files(settings.docs_dir, {
        "ch01.html": f"<html><head><title>Booms</title></head><body>{chapter}</body></html>\n",
        "ch02.html": _page("Slewing"),
        "print.html": f'<html><head><meta name="robots" content="noindex"></head><body>{chapter}</body></html>\n'})
    engine = Engine(settings, HashEmbedder())
    report = engine.index()
    assert [(s.source, s.reason) for s in report.skipped] == [("print.html", UNLISTED)]
    answer = engine.ask("How does a telescopic boom reach the upper deck?", k=5)
    assert answer.hits and answer.hits[0].source == "ch01.html"
    assert "print.html" not in {h.source for h in answer.hits}

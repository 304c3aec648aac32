"""Cross-references read as the titles they point at, found anywhere in the folder, and a page is read again
when a title it shows changes on another page (xref.py)."""

from __future__ import annotations

from citebot.index import Engine, Settings, xref
from citebot.index.formats import line_structure, targets
from citebot.index.structure import reader_text

from .helpers import SpyEmbedder, chunk_lines_by_source, write_files

SETUP = """\
.. _setup-page:

=====
Setup
=====

The bot needs a token.

.. _install:

Installing *the* bot
--------------------

Run pip.
"""
FAQ = """\
FAQ
===

Why does it fail? Read :ref:`install` first, then :doc:`setup` and :doc:`/guide/intro`.
A label nobody defines reads as its words: :ref:`voice_primer`.
"""
INTRO = """\
(intro-label)=
# Getting started with *citebot*

See {ref}`install` and {doc}`../faq`.
"""


def _engine(settings: Settings) -> tuple[Engine, SpyEmbedder]:
    spy = SpyEmbedder()
    return Engine(settings, spy), spy


def _line(engine: Engine, source: str, start: str) -> str:
    return next(line for line in chunk_lines_by_source(engine)[source] if line.startswith(start))


def test_each_format_finds_its_page_title_and_the_sections_its_labels_mark() -> None:
    assert targets("setup.rst", SETUP.splitlines()) == xref.Targets(
        "Setup", {"setup-page": "Setup", "install": "Installing the bot"})
    assert targets("guide/intro.md", INTRO.splitlines()) == xref.Targets(
        "Getting started with citebot", {"intro-label": "Getting started with citebot"})
    # A label above something that is no section (a directive) marks no title; "::" is no underline.
    assert targets("n.rst", [".. _n:", "", ".. note:: Hi", "", "Example", "::", "", "   code"]).labels == {}
    assert targets("n.txt", ["Django-style page", "=================", "", ".. _x:", "", "Part", "----"]) == \
        xref.Targets("Django-style page", {"x": "Part"})
    assert targets("m.md", ["(opts)=", "Options", "-------"]).labels == {"opts": "Options"}  # setext, no blank
    assert targets("m.md", ["```", "# not a title", "```", "Title", "====="]).title == "Title"
    assert targets("notes.py", ["Title", "====="]) == xref.Targets()  # other formats offer none


def test_a_reference_reads_as_its_title_only_inside_reading_and_relative_pages_resolve() -> None:
    titles = xref.Titles.of([("setup.rst", targets("setup.rst", SETUP.splitlines())),
                             ("faq.rst", targets("faq.rst", FAQ.splitlines())),
                             ("guide/intro.md", targets("guide/intro.md", INTRO.splitlines()))])
    lines = INTRO.splitlines()
    alone = [reader_text(line, info) for line, info in zip(lines, line_structure("guide/intro.md", lines))]
    assert alone[-1] == "See install and faq."
    with xref.reading("guide/intro.md", titles) as refs:
        read = [reader_text(line, info) for line, info in zip(lines, line_structure("guide/intro.md", lines))]
    assert read[-1] == "See Installing the bot and FAQ."
    assert refs == {"ref:install": "Installing the bot", "doc:faq": "FAQ"}
    assert xref.reference_key("doc", "/guide/intro", "a/b.rst") == "doc:guide/intro"
    assert xref.reference_key("doc", "../releases/1.0", "a/b.rst") == "doc:releases/1.0"
    assert xref.reference_key("ref", "Install  Guide", "a/b.rst") == "ref:install guide"


def test_a_page_is_read_again_when_a_title_it_shows_changes_on_another_page(settings: Settings) -> None:
    docs = write_files(settings.docs_dir, {"setup.rst": SETUP, "faq.rst": FAQ, "guide/intro.md": INTRO})
    engine, spy = _engine(settings)
    engine.index()
    assert _line(engine, "faq.rst", "Why") == (
        "Why does it fail? Read Installing the bot first, then Setup and Getting started with citebot.")
    assert _line(engine, "faq.rst", "A label") == "A label nobody defines reads as its words: voice primer."
    assert _line(engine, "guide/intro.md", "See") == "See Installing the bot and FAQ."

    # A page that changes none of those titles leaves the pages that show them alone.
    write_files(docs, {"other.rst": "Other\n=====\n\nUnrelated words.\n"})
    report = engine.index()
    assert (report.added, report.updated) == (1, 0)

    # Retitling a section reads the pages that show it again, and only those.
    write_files(docs, {"setup.rst": SETUP.replace("Installing *the* bot\n--------------------",
                                                  "Installing from source\n----------------------")})
    report = engine.index()
    assert report.updated == 3  # setup.rst itself, faq.rst and guide/intro.md
    assert _line(engine, "faq.rst", "Why").startswith("Why does it fail? Read Installing from source first")
    assert _line(engine, "guide/intro.md", "See") == "See Installing from source and FAQ."

    # A label that appears, or goes, changes what its references show.
    write_files(docs, {"voice.rst": ".. _voice_primer:\n\nVoice support\n=============\n\nOpus.\n"})
    assert engine.index().updated == 1
    assert _line(engine, "faq.rst", "A label") == "A label nobody defines reads as its words: Voice support."
    (docs / "voice.rst").unlink()
    assert engine.index().updated == 1
    assert _line(engine, "faq.rst", "A label").endswith("voice primer.")
    assert engine.index().embedded == 0  # and then nothing is left to read

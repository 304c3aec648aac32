"""One per-line structure for every format, and what the chunker and the store make of it: reader text under the
file's own line numbers, markup that never answers, and a prose score that tells release notes from prose."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citebot.index import Engine, HashEmbedder
from citebot.index.chunker import chunk_document
from citebot.index.cleaner import clean
from citebot.index.code import code_structure
from citebot.index.formats import line_structure
from citebot.index.prose import asks_about_releases, is_listy, is_release_title, prose_score, release_note_share
from citebot.index.store import StoredChunk
from citebot.index.structure import PLAIN, reader_text

from .helpers import committed, hash_settings, write_files
from .test_asciidoc import ADOC, MANPAGE
from .test_html import API, HTML, THEMED
from .test_markdown import DOCUSAURUS, MKDOCS, MYST, MYST_RST, TEMPLATES
from .test_notebook import NOTEBOOK
from .test_rst import RST

EMBEDDER = HashEmbedder()

PYTHON = [
    '"""Crane control."""',                 # 1  module docstring
    "",                                     # 2
    "import os",                            # 3
    "",                                     # 4
    "",                                     # 5
    "class Crane:",                         # 6
    '    """A harbour crane."""',           # 7
    "",                                     # 8
    "    # lifting speed in metres/second",  # 9
    "    SPEED = 2",                        # 10
    "",                                     # 11
    "    @property",                        # 12
    "    def lift(self):",                  # 13
    '        """Lift the load.',            # 14
    "",                                     # 15
    '        Slowly."""',                   # 16
    "        return self.SPEED  # inline",  # 17
    "",                                     # 18
    "",                                     # 19
    "def main():",                          # 20
    "    Crane().lift",                     # 21
]


def test_python_docstrings_and_comments_are_prose_and_definitions_head_their_lines() -> None:
    infos = code_structure("crane.py", PYTHON)
    prose = {k + 1 for k, i in enumerate(infos) if PYTHON[k].strip() and i.code_block is None}
    assert prose == {1, 7, 9, 14, 16}, "docstrings (all their lines) and whole-line comments"
    code = {k + 1 for k, i in enumerate(infos) if i.code_block is not None}
    assert code == {3, 6, 10, 12, 13, 17, 20, 21}
    assert [infos[k - 1].heading for k in (3, 6, 10, 12, 17, 21)] == ["", "Crane", "Crane", "Crane > lift",
                                                                        "Crane > lift", "main"]
    assert infos[11].code_block == infos[12].code_block, "a decorator and its def are one block"
    assert len({infos[9].code_block, infos[12].code_block, infos[16].code_block}) == 3, "prose or a new def ends one"


def test_other_languages_and_broken_python_get_comments() -> None:
    js = ["// connect", "const c = connect();", "/* block", " * more", " */", "c.run();"]
    assert [i.code_block is None for i in line_structure("a.js", js)] == [True, False, True, True, True, False]
    broken = ["def (:", "# a comment", "x = 1"]
    assert [i.code_block is None for i in line_structure("b.py", broken)] == [False, True, False]


def test_unknown_formats_are_plain() -> None:
    lines = ["# title", "key: value", "<p>x</p>"]
    for source in ("notes.txt", "conf.yaml", "data.json", "README"):
        assert line_structure(source, lines) == [PLAIN] * 3


FIXTURES = {"page.md": MKDOCS, "intro.mdx": DOCUSAURUS, "myst.md": MYST, "gitbook.md": TEMPLATES, "guide.rst": RST,
            "page.html": HTML, "themed.html": THEMED, "api.html": API, "cranes.md": MYST_RST,
            "guide.adoc": ADOC, "tutorial.ipynb": NOTEBOOK, "crane.py": PYTHON,
            "git-lift.txt": MANPAGE, "sessions.txt": RST}  # ".txt" read by its markup: formats.sniffed


@pytest.mark.parametrize("source", sorted(FIXTURES))
@pytest.mark.parametrize("window", [24, 48, 256])
def test_every_kept_line_is_in_one_chunk_at_its_own_number(source: str, window: int) -> None:
    """Each format's fixture: every line a reader sees is chunked, at its line, as its reader text; no
    other line is; markup lines are flagged; each line is in one chunk except where chunks overlap."""
    _check_chunks(source, FIXTURES[source], window)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suffix=st.sampled_from(sorted(FIXTURES)), picks=st.lists(st.integers(0, 10_000), max_size=40),
       window=st.integers(24, 200))
def test_any_mix_of_markup_keeps_every_line_at_its_number(suffix: str, picks: list[int], window: int) -> None:
    """The same property on documents made of the fixtures' lines in any order (half-open directives, fences,
    tags and containers included), read as each format: no parser may lose, move or invent a line."""
    pool = [line for lines in FIXTURES.values() for line in lines]
    _check_chunks(suffix, [pool[p % len(pool)] for p in picks], window)


def _check_chunks(source: str, lines: list[str], window: int) -> None:
    infos = line_structure(source, lines)
    shown = [reader_text(line, info) for line, info in zip(lines, infos)]
    chunks = chunk_document(source, lines, clean(shown), window, EMBEDDER.count_tokens, 1, infos)
    seen: dict[int, list[int]] = {}
    repeats: set[int] = set()
    for n, chunk in enumerate(chunks):
        for index, unit in enumerate(chunk.units):
            info = infos[unit.line - 1]
            assert unit.text in shown[unit.line - 1], "a unit is (a piece of) its own line's reader text"
            assert (index in chunk.markup) == (info.markup or info.is_heading)
            seen.setdefault(unit.line, []).append(n)
            repeats.update(unit.also_at)  # a line repeating an earlier one is embedded once, at the first
    expected = {k + 1 for k, text in enumerate(shown) if text.strip() and not infos[k].front_matter}
    assert set(seen) | repeats == expected and not set(seen) & repeats
    for line, holders in seen.items():
        # Overlap repeats the last line of a chunk at the start of the next one, nothing more.
        assert len(set(holders)) <= 2, (line, holders)
        if len(set(holders)) == 2:
            first, second = sorted(set(holders))
            assert second == first + 1 and chunks[second].units[0].line == line


def test_markup_lands_in_the_stored_chunks_flag(tmp_path: Path) -> None:
    """Indexed through the engine and read back from Chroma: the markup and heading lines of each stored chunk
    are listed in ``StoredChunk.markup`` (indices into its units), and nothing else is."""
    settings = hash_settings(tmp_path)
    write_files(settings.docs_dir, {name: "\n".join(lines) + "\n" for name, lines in FIXTURES.items()})
    engine = Engine(settings, HashEmbedder())
    engine.index()
    stored = engine.store.get(committed(settings).chunk_ids())
    flagged: dict[str, set[int]] = {}
    for chunk in stored:
        assert 0.0 <= chunk.prose <= 1.0
        for index in chunk.markup:
            flagged.setdefault(chunk.source, set()).add(chunk.units[index][0])
        infos = line_structure(chunk.source, FIXTURES[chunk.source])
        for index, (line, _) in enumerate(chunk.units):
            assert (index in chunk.markup) == (infos[line - 1].markup or infos[line - 1].is_heading)
    assert flagged["page.md"] >= {4, 6, 13, 16, 18, 32}
    shown = {line: text for chunk in stored if chunk.source == "page.md"
             for (line, _), text in zip(chunk.units, chunk.text.split("\n"), strict=True)}
    assert shown[18] == "(from docs_src/models/x.py)", "an include shows the file's name, not the directive"
    assert flagged["intro.mdx"] >= {7, 9, 13, 22, 30} and not flagged["intro.mdx"] & {10, 15, 31}
    assert flagged["myst.md"] >= {2, 4, 8, 22} and not flagged["myst.md"] & {5, 10, 23}
    assert flagged["guide.rst"] >= {6, 27, 30, 32}
    assert flagged["page.html"] >= {7, 10} and 18 not in flagged["page.html"], "18 holds a paragraph too"
    assert flagged["api.html"] >= {1, 3, 7, 9}, "an API object's signature heads its body"
    assert flagged["guide.adoc"] >= {1, 7, 19, 24, 25, 31} and not flagged["guide.adoc"] & {9, 17, 21}
    assert flagged["git-lift.txt"] == {1, 4, 8}, "two-line titles head their sections; underlines are unseen"
    assert flagged["sessions.txt"] == flagged["guide.rst"], "reST in a .txt reads as reST"
    assert flagged["tutorial.ipynb"] == {7, 36}, "a notebook's headings; its JSON is never stored"
    assert flagged["gitbook.md"] >= {1, 2, 6, 14} and not flagged["gitbook.md"] & {3, 7, 15}
    assert "crane.py" not in flagged


def test_markup_and_prose_survive_the_metadata_round_trip() -> None:
    chunk = StoredChunk("id", "a.md", 1, 3, "a\nb\nc", [(1, []), (2, []), (3, [])], "", "h", markup=[0, 2], prose=0.25)
    back = StoredChunk.from_chroma("id", chunk.metadata(), chunk.text)
    assert (back.markup, back.prose) == ([0, 2], 0.25)
    old = {k: v for k, v in chunk.metadata().items() if k not in ("markup", "prose")}
    assert (StoredChunk.from_chroma("id", old, "a").markup, StoredChunk.from_chroma("id", old, "a").prose) == ([], 1.0)


RELEASE_NOTES = [("v2.7.0", True), ("- Add DAVE protocol support for voice connections (#10300)", False),
                 ("- Fix FFmpeg errors not sent to after callback (#10387)", False),
                 ("- Add MessageType.is_deletable", False),
                 ("* [#1234](https://github.com/x/y/pull/1234) by @dev", False),
                 ("## 2024-05-01", True)]
PROSE = [("Intents", True),
         ("In version 1.5 comes the introduction of Intents. This is a radical change in how bots are written.", False),
         ("An intent basically allows a bot to subscribe to specific buckets of events, which lets you control", False),
         ("which events your bot receives and keeps its memory use low when it joins many large guilds.", False),
         ("- `members`: whether your bot receives member join and leave events, which need the privileged intent "
          "to be enabled on the developer portal before the bot starts.", False)]


def test_release_notes_score_low_and_prose_high() -> None:
    assert prose_score(RELEASE_NOTES) == 0.0
    assert prose_score(PROSE) == 1.0
    assert prose_score([]) == 1.0 and prose_score([("A heading", True)]) == 1.0
    assert is_listy("https://example.org/a/very/long/link") and not is_listy("Python 3.8 or higher is required to "
                                                                             "run the bot on any machine.")


def test_a_page_about_one_release_is_told_by_its_title_and_a_migration_guide_is_not() -> None:
    for title in ("What's new in Celery 4.0 (latentcall)", "Django 1.5 release notes", "pytest-5.1.2",
                  "Change history for Celery 1.0", "pytest-2.7.0: fixes, features, speed improvements", "v3.2.1"):
        assert is_release_title(title), title
    for title in ("Migrating to v2.0", "Porting your apps from Django 0.96 to 1.0", "Release process",
                  "Python 3.12 support", "Models", "What's new"):
        assert not is_release_title(title), title
    assert asks_about_releases("what changed in 5.0?") and asks_about_releases("when was this added, which release?")
    assert not asks_about_releases("my bot ignores every message, why?")


def test_a_release_note_wrapped_over_lines_is_one_entry_and_steps_are_none() -> None:
    notes = ["Release 8.1.0 (2024-10-10)", "* #12888: Add a warning when document is included in multiple toctrees",
             "and ensure deterministic resolution of global toctree in parallel builds",
             "by choosing the lexicographically greatest parent document.", "Patch by A. Rafey Khan",
             "- #7628: Fixed test collection when a full path without a drive letter was passed to pytest on "
             "Windows (for example a path relative to the root of the drive instead of one with its letter)."]
    share = release_note_share(notes, [1, 3, 4, 5, 6, 7], {0}, [False] * 6)
    assert share == 1.0
    # Line by line, only the version header and the first line of the wrapped entry are entries.
    assert sum(is_listy(line, i == 0) for i, line in enumerate(notes)) == 2
    steps = ["1. Attach a message to the view using the return value of send.",
             "2. Inside on_timeout, loop over all items and mark them disabled,",
             "then edit the message you kept with the newly modified view.",
             "    await self.message.edit(view=self)",
             "See #12 for the discussion of why the view must be edited."]
    # Short steps name nothing (is_listy calls them list entries); the code line is not counted; the paragraph
    # after the list (a blank line before it: 8 after 6) is not part of the last step, though it names an issue.
    assert release_note_share(steps, [1, 2, 3, 5, 8], set(), [False, False, False, True, False]) == 0.0
    assert all(is_listy(step) for step in steps[:2])
    # Right below the list (no code between) it would continue the last step, which then names an issue: the
    # step's three lines are one entry.
    assert release_note_share([*steps[:3], steps[4]], [1, 2, 3, 4], set(), [False] * 4) == 0.75


def test_an_admonition_body_is_cited_never_its_marker(tmp_path: Path) -> None:
    """Through the engine, with the default extensions: a Docusaurus page (.mdx), two MyST pages (one with a
    reST block), a GitBook page, an AsciiDoc page and a notebook are indexed, and a question answered inside an
    admonition cites the body line, at its own number."""
    settings = hash_settings(tmp_path)
    names = ("intro.mdx", "myst.md", "cranes.md", "guide.adoc", "tutorial.ipynb", "gitbook.md")
    write_files(settings.docs_dir, {name: "\n".join(FIXTURES[name]) + "\n" for name in names})
    engine = Engine(settings, HashEmbedder())
    engine.index()
    for question, source, line in (("never run the installer as root?", "intro.mdx", 15),
                                   ("do cranes need a licence?", "myst.md", 5),
                                   ("check the load chart first?", "myst.md", 10),
                                   ("do cranes tip over in wind?", "cranes.md", 7),
                                   ("never lift more than ten tonnes?", "guide.adoc", 21),
                                   ("check the wind speed first?", "tutorial.ipynb", 37),
                                   ("keep the token out of the repository?", "gitbook.md", 3)):
        hits = engine.ask(question, 3).hits
        assert hits and (hits[0].source, hits[0].line) == (source, line), (question, hits[:1])

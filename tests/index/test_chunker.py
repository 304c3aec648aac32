"""Chunks are whole lines that fit the model's window and together cover every kept line of a file."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citebot.index import HashEmbedder
from citebot.index.chunker import Chunk, chunk_document, embedded_text, split_long_line
from citebot.index.cleaner import clean
from citebot.index.formats import line_structure
from citebot.index.structure import reader_text

EMBEDDER = HashEmbedder()
_WORD_CHARS = re.compile(r"\w")

word = st.sampled_from(
    "the crane harbour cargo Lisbon council voted spring engineers cabin glass motor é naïve 日本 "
    "x 42 3.14 don't well-known (aside) \"quoted.\" end. why? yes! …".split()
)
sentence = st.lists(word, min_size=1, max_size=30).map(" ".join)
long_line = st.lists(sentence, min_size=5, max_size=40).map(lambda parts: ". ".join(parts) + ".")
giant_word = st.integers(300, 3000).map(lambda n: "z" * n)  # no space, no sentence end: cut anywhere
heading = st.tuples(st.integers(1, 4), st.lists(word, min_size=1, max_size=4)).map(
    lambda t: "#" * t[0] + " " + " ".join(t[1])
)
list_item = sentence.map(lambda s: "- " + s)
# Markdown structure the chunker must read like a renderer: fences (with `#` lines inside), indented code,
# setext underlines, and optional front matter at the top.
markdown_only = st.sampled_from(["```", "```sh", "~~~", "    # indented code", "  # shell comment", "=====", "---"])
line = st.one_of(st.just(""), st.just("   "), sentence, sentence, long_line, giant_word, heading, list_item,
                 markdown_only)
front_matter = st.one_of(st.just([]), st.just(["---", "title: the crane", "# a yaml comment", "---"]))
document = st.tuples(front_matter, st.lists(line, min_size=0, max_size=60)).map(lambda t: t[0] + t[1])


def _check_invariants(source: str, lines: list[str], chunks: list[Chunk], window: int, drop: bool) -> None:
    cleaned = clean(lines, drop)
    infos = line_structure(source, lines)
    shown = [reader_text(line, info) for line, info in zip(lines, infos)]
    # Front matter and lines a reader never sees (a setext underline, a rule) are left out.
    front = {k + 1 for k, info in enumerate(infos) if info.front_matter or not shown[k].strip()}
    kept = {k + 1 for k, keep in enumerate(cleaned.keep) if keep} - front
    # A repeat of a line left out is the first copy left in the chunks.
    homes: dict[int, int] = {}
    for dup, first in sorted(cleaned.duplicate_of.items()):
        if first + 1 in front and dup + 1 not in front and homes.setdefault(first, dup) == dup:
            kept.add(dup + 1)
    covered = {u.line for c in chunks for u in c.units}
    assert covered == kept, "every kept line is in some chunk, and nothing else is"
    for c in chunks:
        assert c.source == source
        assert 1 <= c.line_start <= c.line_end <= len(lines), "spans are within the file"
        assert [u.line for u in c.units] == sorted(u.line for u in c.units), "lines in file order"
        assert EMBEDDER.count_tokens([embedded_text(c.context, c.text)])[0] <= window, "embed text fits the window"
        for u in c.units:
            original = shown[u.line - 1]
            assert u.text in original or _WORD_CHARS.findall(u.text), (u.text, original)
            assert u.markup == (infos[u.line - 1].markup or infos[u.line - 1].is_heading)
    # A line too long for one chunk is cut into pieces; together they keep all of its words.
    for number in kept:
        by_piece = {u.piece: u.text for c in chunks for u in c.units if u.line == number}  # overlap repeats
        pieces = [by_piece[p] for p in sorted(by_piece)]
        assert sorted(by_piece) == list(range(len(pieces))), "no piece of a line is lost"
        original = shown[number - 1]
        if len(pieces) == 1:
            assert pieces[0] == original, "a line that fits is stored exactly as a reader sees it"
        else:
            assert "".join(_WORD_CHARS.findall("".join(pieces))) == "".join(_WORD_CHARS.findall(original))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=document, window=st.integers(48, 300), overlap=st.integers(0, 2), drop=st.booleans(),
       suffix=st.sampled_from([".md", ".txt"]))
def test_chunks_cover_every_kept_line_and_fit_the_window(
    doc: list[str], window: int, overlap: int, drop: bool, suffix: str
) -> None:
    source = "doc" + suffix
    chunks = chunk_document(source, doc, clean(doc, drop), window, EMBEDDER.count_tokens, overlap)
    _check_invariants(source, doc, chunks, window, drop)


def test_paragraphs_stay_whole_and_sections_start_new_chunks() -> None:
    lines = ["# Guide", "", "## Install", "", "Run the installer.", "Accept the licence.", "",
             "## Use", "", "Open the app.", "Pick a file."]
    chunks = chunk_document("g.md", lines, clean(lines), 30, EMBEDDER.count_tokens)
    spans = [[u.line for u in c.units] for c in chunks]
    assert [5, 6] in [s[-2:] for s in spans] and [10, 11] in [s[-2:] for s in spans]
    assert all(not ({5, 6} & set(s) and {10, 11} & set(s)) for s in spans)
    assert next(c for c in chunks if 10 in {u.line for u in c.units}).context == "Guide > Use"


def test_long_paragraph_is_split_between_lines_with_overlap() -> None:
    lines = [f"Line {i} of a long paragraph about harbour cranes and cargo." for i in range(1, 31)]
    chunks = chunk_document("p.txt", lines, clean(lines), 60, EMBEDDER.count_tokens, overlap=1)
    assert len(chunks) > 1
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.units[0].line == before.units[-1].line, "one whole line repeated at each cut"


def test_split_long_line_keeps_every_word_and_fits() -> None:
    text = " ".join(f"Sentence {i} talks about cranes." for i in range(200))
    pieces = split_long_line(text, 40, EMBEDDER.count_tokens)
    assert all(n <= 40 for _, n in pieces)
    assert " ".join(p for p, _ in pieces).split() == text.split()


def test_split_long_line_keeps_closing_quotes() -> None:
    """Closing quotes and brackets after a sentence end used to be dropped from the pieces."""
    text = 'He said "Stop." Then he left. (She stayed.) Done.'
    pieces = split_long_line(text, 4, EMBEDDER.count_tokens)
    assert "".join(p for p, _ in pieces).replace(" ", "") == text.replace(" ", "")


def test_heading_longer_than_the_window_still_fits() -> None:
    """A heading longer than the window used to overflow every chunk of its section, cut into 1-char pieces."""
    lines = ["# " + " ".join(f"w{i}" for i in range(300)), "", "Short body line one.", "Short body line two."]
    chunks = chunk_document("h.md", lines, clean(lines), EMBEDDER.max_tokens, EMBEDDER.count_tokens)
    assert len(chunks) < 10
    assert all(EMBEDDER.count_tokens([embedded_text(c.context, c.text)])[0] <= EMBEDDER.max_tokens for c in chunks)


def test_context_of_a_later_section_fits_the_window() -> None:
    """A chunk used to be sized for the first section's short heading while carrying a later, longer one."""
    doc = ["# the the", "## the the 3.14 3.14",
           "the. the. the. 3.14. " + "the " * 26 + "3.14."]
    chunks = chunk_document("doc.md", doc, clean(doc, False), 48, EMBEDDER.count_tokens, 0)
    assert {u.line for c in chunks for u in c.units} == {1, 2, 3}
    for c in chunks:
        assert EMBEDDER.count_tokens([embedded_text(c.context, c.text)])[0] <= 48, c


def _chunk_of(chunks: list[Chunk], line: int) -> Chunk:
    return next(c for c in chunks if line in {u.line for u in c.units})


@pytest.mark.parametrize("fence", ["```", "~~~"])
def test_comment_in_a_fence_is_not_a_heading(fence: str) -> None:
    """A shell comment in a code block used to become a heading: it cut the chunk and renamed the section."""
    intro = "The bot answers questions in a channel and cites the file and line of every answer it gives."
    lines = ["# The bot", intro, "", "## Configure", "", "Set the token in the settings file.", "",
             fence + "sh", "# index (shared with the citebot CLI)", "citebot index docs", "", "# bot",
             "citebot-bot run", fence, "", "Restart the bot after a change."]
    chunks = chunk_document("bot.md", lines, clean(lines), 60, EMBEDDER.count_tokens)
    assert [c.context for c in chunks] == ["The bot", "The bot > Configure"]
    assert _chunk_of(chunks, 16).context == "The bot > Configure"
    assert len({id(_chunk_of(chunks, k)) for k in (8, 9, 10, 12, 13, 14)}) == 1, "the fence is one chunk"


def test_fence_inside_a_list_item_is_code() -> None:
    lines = ["# Setup", "", "1. Install the package in the virtual environment that the bot will run from:", "",
             "   ```sh", "   # not a heading", "   pip install citebot", "   ```", "", "Done."]
    chunks = chunk_document("s.md", lines, clean(lines), 40, EMBEDDER.count_tokens)
    assert all(c.context == "Setup" for c in chunks)


def test_fence_with_blank_lines_stays_in_one_chunk_when_it_fits() -> None:
    """Blank lines inside a fence used to split it: its first half filled the previous chunk's room."""
    intro = ["Harbour cranes lift cargo from ships onto the quay every single day of the week."] * 1
    intro += ["Council engineers inspect every crane in spring before the shipping season starts now."]
    fence = ["```python", "def lift(cargo):", "    check(cargo)", "", "    return crane.move(cargo)", "",
             "def lower(cargo):", "    return crane.drop(cargo)", "```"]
    lines = intro + [""] + fence + ["", "After the code."]
    start = len(intro) + 2  # 1-based number of the opening fence line
    for window in range(40, 80):
        chunks = chunk_document("c.md", lines, clean(lines), window, EMBEDDER.count_tokens)
        holders = {id(_chunk_of(chunks, k)) for k in range(start, start + len(fence)) if lines[k - 1].strip()}
        assert len(holders) == 1, f"window {window}: the fence is split"


@pytest.mark.parametrize(("source", "table"), [
    ("t.md", ["| Before | After |", "| --- | --- |", "| `lift()` | `hoist()` |", "| `drop()` | `lower()` |"]),
    ("t.rst", ["+----------+-----------+", "| Before   | After     |", "+==========+===========+",
               "| lift()   | hoist()   |", "+----------+-----------+", "| drop()   | lower()   |",
               "+----------+-----------+"]),
])
def test_a_tables_header_row_stays_with_its_rows(source: str, table: list[str]) -> None:
    """The hidden rule under a table's header row (Markdown's "|---|", reST's "+===+") read as a paragraph
    break: pydantic's V1/V2 table had its header row packed with the paragraph above and its rows in the next
    chunk, which then never said which column is which."""
    intro = ["Harbour cranes lift cargo from ships onto the quay every single day of the week.",
             "Council engineers inspect every crane in spring before the shipping season starts now."]
    lines = [*intro, "", "The crane methods were renamed:", "", *table, "", "After the table."]
    header = next(k + 1 for k, line in enumerate(lines) if "Before" in line)
    row = next(k + 1 for k, line in enumerate(lines) if "drop()" in line)
    for window in range(30, 80):
        chunks = chunk_document(source, lines, clean(lines), window, EMBEDDER.count_tokens)
        assert _chunk_of(chunks, header) is _chunk_of(chunks, row), f"window {window}: the header left its rows"


@pytest.mark.parametrize(("source", "lead", "block"), [
    ("t.md", "Waiting until the crane is ready before the loop starts:", ["```python", "await crane.ready()", "```"]),
    ("t.rst", "Waiting until the crane is ready before the loop starts::", ["    await crane.ready()"]),
])
def test_a_sentence_that_introduces_a_code_block_or_a_list_is_packed_with_it(
    source: str, lead: str, block: list[str]
) -> None:
    """discord.py's tasks page ends one chunk with "Waiting until the bot is ready before the loop starts:" and
    opens the next with its example: neither said what the example is for, and the sentence was cited."""
    before = ["```python", *[f"crane.lift(crate_{i}, to=quay)" for i in range(14)], "```"]
    if source.endswith(".rst"):
        before = ["Lifting many crates::", "", *[f"    crane.lift(crate_{i}, to=quay)" for i in range(14)]]
    lines = ["Harbour cranes.", "", *before, "", lead, "", *block, "", "After the code."]
    at = len(before) + 4  # 1-based line of the lead-in
    for window in range(60, 100):
        chunks = chunk_document(source, lines, clean(lines), window, EMBEDDER.count_tokens)
        code = next(k for k in range(at + 1, len(lines)) if "ready()" in lines[k - 1])
        assert _chunk_of(chunks, at) is _chunk_of(chunks, code), f"window {window}: the lead-in left its block"
    # A list it introduces joins it too, at every window both fit in (before, the list opened a chunk of its own).
    listed = ["Cranes are checked by the council engineers every spring before the season.", "",
              "When a crane is inspected, the engineers record the following values:", "",
              "* `max_load`: the heaviest crate the crane may lift over the quay.",
              "* `reach`: how far the jib extends past the harbour wall.",
              "* `wind_limit`: the wind speed above which lifting stops for the day.", "",
              "## Storms", "", "In a storm the cranes are locked in place:", "", "## Repairs", "",
              "Broken cranes are repaired in the yard behind the fish market."]
    for window in range(55, 80):
        chunks = chunk_document("l.md", listed, clean(listed, False), window, EMBEDDER.count_tokens)
        assert _chunk_of(chunks, 3) is _chunk_of(chunks, 7), f"window {window}: the lead-in left its list"


def test_fence_larger_than_the_window_is_split_between_its_lines() -> None:
    body = [f"# step {i}: move crate {i} from the ship to the quay" if i % 3 == 0 else f"crane.lift(crate_{i}, to=quay)"
            for i in range(60)]
    lines = ["# Guide", "", "Intro line about the cranes.", "", "```sh", *body, "```", "", "Closing words."]
    chunks = chunk_document("g.md", lines, clean(lines), 60, EMBEDDER.count_tokens, overlap=1)
    fence_lines = set(range(5, 5 + len(body) + 2))
    holders = [c for c in chunks if fence_lines & {u.line for u in c.units}]
    assert len(holders) > 1
    for c in chunks:
        assert c.context == "Guide", "a `#` line in a fence never renames the section"
        for u in c.units:
            assert u.text == lines[u.line - 1], "pieces are whole lines with their own numbers"
        assert EMBEDDER.count_tokens([embedded_text(c.context, c.text)])[0] <= 60
    assert {u.line for c in holders for u in c.units} >= fence_lines


def test_setext_headings_give_heading_paths() -> None:
    lines = ["Guide", "=====", "", "Intro to the guide, which is long enough to matter here.", "",
             "Install", "-------", "", "Run the installer and accept the licence.", "",
             "Use", "---", "", "Open the app and pick a file."]
    chunks = chunk_document("g.md", lines, clean(lines), 30, EMBEDDER.count_tokens)
    assert _chunk_of(chunks, 9).context == "Guide > Install"
    assert _chunk_of(chunks, 14).context == "Guide > Use"


def test_front_matter_is_neither_heading_nor_chunk_text() -> None:
    lines = ["---", "title: Harbour guide", "# a yaml comment, not a heading", "tags: [cranes]", "---",
             "# Harbour guide", "", "Cranes lift cargo."]
    chunks = chunk_document("h.md", lines, clean(lines), 200, EMBEDDER.count_tokens)
    assert {u.line for c in chunks for u in c.units} == {6, 8}
    assert all(c.context == "Harbour guide" for c in chunks)


def test_nested_atx_headings_give_paths() -> None:
    text = [f"Crane {i} lifts cargo from the ships onto the quay in every season of the year." for i in range(5)]
    lines = ["# A", "", text[0], "", "## B", "", text[1], "", "### C ###", "", text[2], "", "## D", "", text[3], "",
             "# E", "", text[4]]
    chunks = chunk_document("n.md", lines, clean(lines), 40, EMBEDDER.count_tokens)
    assert [_chunk_of(chunks, k).context for k in (3, 7, 11, 15, 19)] == ["A", "A > B", "A > B > C", "A > D", "E"]


def test_hash_in_an_indented_code_block_is_not_a_heading() -> None:
    lines = ["# Guide", "", "Run this:", "", "    # not a heading", "    citebot index", "", "Then ask."]
    chunks = chunk_document("i.md", lines, clean(lines), 200, EMBEDDER.count_tokens)
    assert all(c.context == "Guide" for c in chunks)


def test_every_unit_is_its_line_on_disk() -> None:
    lines = ["---", "title: t", "---", "Guide", "=====", "", "Text line one.", "", "```", "# c", "", "x = 1",
             "```", "", "    code", "", "## Sub ##", "Last line."]
    for window in (20, 40, 200):
        chunks = chunk_document("e.md", lines, clean(lines), window, EMBEDDER.count_tokens)
        # Front matter is not chunked, nor the setext underline (line 5), which a reader never sees as text.
        body = {k + 1 for k, s in enumerate(lines) if s.strip()} - {1, 2, 3, 5}
        assert {u.line for c in chunks for u in c.units} == body
        assert all(u.text == lines[u.line - 1] for c in chunks for u in c.units)


def test_plain_text_has_no_headings_or_fences() -> None:
    """``.txt`` keeps the plain rules: no headings, blank lines end paragraphs."""
    lines = ["# not a heading here", "", "```", "first half of what looks like a fence", "", "second half", "```"]
    for source in ("t.txt", "notes.text"):
        chunks = chunk_document(source, lines, clean(lines), 200, EMBEDDER.count_tokens)
        assert all(c.context == "" for c in chunks)
        assert {u.line for c in chunks for u in c.units} == {1, 3, 4, 6, 7}


def test_a_fence_holding_only_an_include_chunks_like_any_code_block() -> None:
    """Its lines are all markup (the include is never the answer), yet it is a paragraph of its own: packed
    with the prose after it, as a heading is, it moved every chunk boundary of the page that followed."""
    prose = [f"Crane {n} lifts cargo from the ships onto quay {n} every day of the week in the harbour."
             for n in ("one", "two", "three", "four", "five", "six")]

    def spans(inside: str, window: int) -> list[list[int]]:
        lines = ["# Cranes", *prose[:2], "", "```python", inside, "```", "", *prose[2:4], "", *prose[4:]]
        infos = line_structure("c.md", lines)
        shown = [reader_text(x, i) for x, i in zip(lines, infos, strict=True)]
        chunks = chunk_document("c.md", lines, clean(shown), window, EMBEDDER.count_tokens, infos=infos)
        return [[u.line for u in c.units] for c in chunks]

    include, code = '--8<-- "examples/lift.py"', "crane.lift(cargo, quay)"
    assert EMBEDDER.count_tokens([include]) == EMBEDDER.count_tokens([code])
    assert line_structure("c.md", ["```", include, "```"])[1].markup
    for window in range(30, 90, 4):
        assert spans(include, window) == spans(code, window), window

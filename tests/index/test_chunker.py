"""Chunks are whole lines that fit the model's window and together cover every kept line of a file."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citebot.index import HashEmbedder
from citebot.index.chunker import Chunk, chunk_document, split_long_line
from citebot.index.cleaner import clean

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
line = st.one_of(st.just(""), st.just("   "), sentence, sentence, long_line, giant_word, heading, list_item)
document = st.lists(line, min_size=0, max_size=60)


def _check_invariants(source: str, lines: list[str], chunks: list[Chunk], window: int, drop: bool) -> None:
    cleaned = clean(lines, drop)
    kept = {k + 1 for k, keep in enumerate(cleaned.keep) if keep}
    covered = {u.line for c in chunks for u in c.units}
    assert covered == kept, "every kept line is in some chunk, and nothing else is"
    for c in chunks:
        assert c.source == source
        assert 1 <= c.line_start <= c.line_end <= len(lines), "spans are within the file"
        assert [u.line for u in c.units] == sorted(u.line for u in c.units), "lines in file order"
        assert EMBEDDER.count_tokens([c.embed_text])[0] <= window, "embed text fits the token window"
        for u in c.units:
            original = lines[u.line - 1]
            assert u.text in original or _WORD_CHARS.findall(u.text), (u.text, original)
    # A line too long for one chunk is cut into pieces; together they keep all of its words.
    for number in kept:
        pieces = []
        for c in chunks:
            for u in c.units:
                if u.line == number and u.text not in pieces:
                    pieces.append(u.text)
        original = lines[number - 1]
        if len(pieces) == 1:
            assert pieces[0] == original, "a line that fits is stored exactly as on disk"
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
    assert all(EMBEDDER.count_tokens([c.embed_text])[0] <= EMBEDDER.max_tokens for c in chunks)

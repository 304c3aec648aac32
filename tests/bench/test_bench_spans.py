"""Mapping LangChain-style splits back to file lines (bench.spans), on text of our own."""

from __future__ import annotations

import pytest

from bench.spans import LineMap, line_span, locate

TEXT = "# Title\n\nalpha beta gamma\ndelta epsilon\n\nzeta eta\ntheta\n"


def test_line_at_counts_lines_from_one() -> None:
    lines = LineMap.of(TEXT)
    assert lines.line_at(0) == 1
    assert lines.line_at(TEXT.index("alpha")) == 3
    assert lines.line_at(TEXT.index("delta") - 1) == 3  # the newline ending line 3 belongs to it
    assert lines.line_at(TEXT.index("delta")) == 4
    assert lines.line_at(TEXT.index("theta")) == 7


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        ("alpha beta gamma", (3, 3)),
        ("gamma\ndelta epsilon", (3, 4)),
        ("delta epsilon\n\nzeta eta\ntheta", (4, 7)),
        ("# Title", (1, 1)),
    ],
)
def test_line_span_of_a_split(split: str, expected: tuple[int, int]) -> None:
    assert line_span(TEXT, split, TEXT.index(split)) == expected
    assert line_span(TEXT, split, None) == expected  # no start index: found by search


def test_start_hint_picks_the_right_copy_of_repeated_text() -> None:
    text = "same line\nother\nsame line\n"
    second = text.index("same line", 1)
    assert line_span(text, "same line", second) == (3, 3)
    assert line_span(text, "same line", 0) == (1, 1)


def test_a_wrong_hint_falls_back_to_searching() -> None:
    assert locate(TEXT, "zeta eta", 2) == TEXT.index("zeta eta")
    assert line_span(TEXT, "zeta eta", 5) == (6, 6)


def test_a_split_not_in_the_file_is_an_error_not_a_silent_span() -> None:
    with pytest.raises(ValueError, match="not found"):
        line_span(TEXT, "not in this file", 0)

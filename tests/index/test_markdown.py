"""Per-line Markdown structure: headings as a renderer reads them, code blocks, front matter."""

from __future__ import annotations

import pytest

from citebot.index.markdown import PLAIN, LineInfo, is_markdown, line_structure, markdown_structure


def _paths(lines: list[str]) -> list[str]:
    return [info.heading for info in markdown_structure(lines)]


def _heading_lines(lines: list[str]) -> list[int]:
    return [k + 1 for k, info in enumerate(markdown_structure(lines)) if info.is_heading]


def test_nested_atx_headings_give_paths() -> None:
    lines = ["intro", "# A", "a", "## B", "b", "### C ###", "c", "## D", "d", "# E", "e"]
    assert _paths(lines) == ["", "A", "A", "A > B", "A > B", "A > B > C", "A > B > C", "A > D", "A > D", "E", "E"]
    assert _heading_lines(lines) == [2, 4, 6, 8, 10]


def test_heading_text_is_what_a_reader_sees() -> None:
    assert _paths(["# Install *the* `citebot` [CLI](https://example.org) ##"]) == ["Install the citebot CLI"]
    setext = ["Logo ![the *crane* logo](c.png) <b>bold</b> \\*star\\*", "---"]
    assert _paths(setext) == ["Logo the crane logo bold *star*"] * 2


def test_empty_heading_closes_deeper_sections_but_names_nothing() -> None:
    assert _paths(["# A", "## B", "##", "text"]) == ["A", "A > B", "A", "A"]


@pytest.mark.parametrize("underline", ["=====", "-----", "="])
def test_setext_headings(underline: str) -> None:
    lines = ["Guide", "=====", "", "text", "", "Two line", "title", underline, "more"]
    level_two = underline.startswith("-")
    assert _paths(lines)[-1] == ("Guide > Two line title" if level_two else "Two line title")
    assert _heading_lines(lines) == [1, 2, 6, 7, 8]


@pytest.mark.parametrize("fence", ["```", "~~~", "````"])
def test_hash_lines_in_a_fence_are_code_not_headings(fence: str) -> None:
    lines = ["# Guide", "", fence + "sh", "# a shell comment", "", "run", fence, "", "after", fence, "# unclosed"]
    infos = markdown_structure(lines)
    assert _heading_lines(lines) == [1]
    assert set(_paths(lines)) == {"Guide"}
    assert [i.code_block for i in infos] == [None, None, 0, 0, 0, 0, 0, None, None, 1, 1]


def test_fence_inside_a_list_item_is_code() -> None:
    lines = ["# Setup", "", "1. Install:", "", "   ```sh", "   # not a heading", "   ```"]
    infos = markdown_structure(lines)
    assert _heading_lines(lines) == [1]
    assert [i.code_block for i in infos][4:] == [0, 0, 0]


def test_hash_in_an_indented_code_block_is_not_a_heading() -> None:
    lines = ["# Guide", "", "    # not a heading", "", "    still code", "", "text"]
    infos = markdown_structure(lines)
    assert _heading_lines(lines) == [1]
    assert [i.code_block for i in infos] == [None, None, 0, 0, 0, None, None]


def test_headings_in_quotes_and_list_items_do_not_make_sections() -> None:
    lines = ["# Guide", "", "> # Quoted", "", "- # In a list", "", "text"]
    assert set(_paths(lines)) == {"Guide"}
    assert _heading_lines(lines) == [1]


def test_front_matter_is_not_a_heading() -> None:
    lines = ["---", "title: Guide", "# a yaml comment", "---", "# Guide", "text"]
    infos = markdown_structure(lines)
    assert [i.front_matter for i in infos] == [True, True, True, True, False, False]
    assert _paths(lines) == ["", "", "", "", "Guide", "Guide"]
    assert _heading_lines(lines) == [5]


@pytest.mark.parametrize("lines", [["text", "---", "a: b", "---"], ["---", "a: b", "", "text"]])
def test_front_matter_only_at_the_top_and_closed(lines: list[str]) -> None:
    assert not any(i.front_matter for i in markdown_structure(lines))


def test_one_info_per_line_whatever_the_text() -> None:
    lines = ["# A\r", "x\x00y", "", "", "```", ""]
    assert len(markdown_structure(lines)) == len(lines)
    assert _paths(["a\rb", "# After"]) == ["", "After"], "a stray CR does not shift the lines below it"
    assert markdown_structure([]) == []


def test_only_markdown_files_get_structure() -> None:
    lines = ["# Not a heading", "```", "# nor this"]
    assert is_markdown("docs/Guide.MD") and is_markdown("a.markdown") and not is_markdown("a.txt")
    for source in ("a.txt", "a.rst"):
        assert line_structure(source, lines) == [PLAIN] * 3
    assert line_structure("a.md", lines)[0] == LineInfo("Not a heading", True)

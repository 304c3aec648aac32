"""AsciiDoc read line by line as its grammar is written: titles, delimited blocks, admonitions, attributes."""

from __future__ import annotations

from citebot.index.asciidoc import asciidoc_structure, is_asciidoc
from citebot.index.formats import line_structure

# An Asciidoctor page (line numbers in the comments are the file's).
ADOC = [
    "= Crane Guide",                                  # 1  document title
    "Jane Doe <jane@example.org>",                    # 2  author line: header, never seen
    ":toc: left",                                     # 3  attribute entry
    ":product: Harbour Crane",                        # 4
    "",                                               # 5
    "// a comment",                                   # 6
    "== Install",                                     # 7
    "",                                               # 8
    "Install the {product} with pip.",                # 9  attribute reference filled in
    "",                                               # 10
    "[source,bash]",                                  # 11 attribute list: markup
    "----",                                           # 12 listing delimiter
    "pip install crane",                              # 13 code
    "== not a title",                                 # 14 code, not a heading
    "----",                                           # 15
    "",                                               # 16
    "NOTE: Needs Python 3.9.",                        # 17 admonition paragraph: prose
    "",                                               # 18
    "[WARNING]",                                      # 19 admonition block
    "====",                                           # 20
    "Never lift more than *ten tonnes*.",             # 21 its body: prose
    "====",                                           # 22
    "",                                               # 23
    "=== Upgrade",                                    # 24
    ".Upgrading in place",                            # 25 block title
    "See <<install,the install section>> and https://example.org/up[the notes].",  # 26
    "",                                               # 27
    "////",                                           # 28 comment block: never seen
    "draft text",                                     # 29
    "////",                                           # 30
    "include::partials/faq.adoc[]",                   # 31 include: markup, shown as written
    "image::crane.png[Crane]",                        # 32
    "[source,python]",                                # 33 a source paragraph, no delimiters
    "crane.lift()",                                   # 34
    "",                                               # 35
    "Press kbd:[Ctrl+C] to stop.",                    # 36
]


def _facts() -> tuple[set[int], set[int], dict[int, str | None], list]:
    infos = asciidoc_structure(ADOC)
    markup = {k + 1 for k, i in enumerate(infos) if i.markup}
    code = {k + 1 for k, i in enumerate(infos) if i.code_block is not None}
    return markup, code, {k + 1: i.text for k, i in enumerate(infos)}, infos


def test_titles_make_heading_paths_and_code_hides_lookalikes() -> None:
    _, code, _, infos = _facts()
    assert [k + 1 for k, i in enumerate(infos) if i.is_heading] == [1, 7, 24]
    assert infos[8].heading == "Crane Guide > Install" and infos[25].heading == "Crane Guide > Install > Upgrade"
    assert code == {12, 13, 14, 15, 34}
    assert infos[11].code_block == infos[14].code_block != infos[33].code_block


def test_markup_is_context_and_hidden_lines_are_never_seen() -> None:
    markup, _, text, _ = _facts()
    assert markup == {2, 3, 4, 6, 11, 12, 15, 19, 20, 22, 25, 28, 29, 30, 31, 32, 33}
    hidden = {k for k, t in text.items() if t == ""}
    assert hidden == {2, 3, 4, 6, 11, 12, 15, 20, 22, 28, 29, 30, 32, 33}
    assert text[19] == "Warning" and text[25] == "Upgrading in place" and text[31] is None


def test_reader_text() -> None:
    _, _, text, _ = _facts()
    assert text[1] == "Crane Guide" and text[7] == "Install"
    assert text[9] == "Install the Harbour Crane with pip."
    assert text[17] == "Note: Needs Python 3.9."
    assert text[21] == "Never lift more than ten tonnes."
    assert text[26] == "See the install section and the notes."
    assert text[36] == "Press Ctrl+C to stop."
    assert text[13] is None and text[34] is None, "code is shown as written"


def test_only_asciidoc_files_and_any_line_count() -> None:
    assert is_asciidoc("docs/Guide.ADOC") and is_asciidoc("a.asciidoc") and not is_asciidoc("a.md")
    assert line_structure("guide.adoc", ADOC)[6].is_heading
    unclosed = ["== A", "----", "code", "====", "x"]
    assert len(asciidoc_structure(unclosed)) == 5 and asciidoc_structure(unclosed)[4].code_block is not None
    assert asciidoc_structure([]) == []

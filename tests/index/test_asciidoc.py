"""AsciiDoc read line by line as its grammar is written: titles, delimited blocks, admonitions, attributes."""

from __future__ import annotations

from citebot.index.asciidoc import asciidoc_structure, is_asciidoc
from citebot.index.formats import line_structure, sniffed
from citebot.index.structure import PLAIN

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


# A manual page as git wrote its documentation before 2.46: two-line titles, a ".txt" name, its own macros.
MANPAGE = [
    "git-lift(1)",                                    # 1  document title, "=" underline
    "===========",                                    # 2
    "",                                               # 3
    "NAME",                                           # 4  a level-2 title: "----" is its underline
    "----",                                           # 5
    "git-lift - Lift a crate, see linkgit:git-drop[1]",  # 6  a macro reads as its target
    "",                                               # 7
    "OPTIONS",                                        # 8
    "-------",                                        # 9
    "--high::",                                       # 10 a description list's term
    "\tLift it high; see issue:42[the height bug].",  # 11
    "+",                                              # 12 list continuation: never seen
    "ifdef::git-lift[]",                              # 13 conditional: never seen
    "----",                                           # 14 a listing block, not an underline (blank above)
    "git lift --high",                                # 15
    "----",                                           # 16
    "endif::git-lift[]",                              # 17
    "",                                               # 18
    "Notes",                                          # 19 an underline too short to be one: prose
    "~~~~~~~~~~~~~",                                  # 20
]


def test_two_line_titles_and_a_git_manual_pages_own_markup() -> None:
    infos = asciidoc_structure(MANPAGE)
    assert [k + 1 for k, i in enumerate(infos) if i.is_heading] == [1, 2, 4, 5, 8, 9]
    assert infos[5].heading == "git-lift(1) > NAME" and infos[10].heading == "git-lift(1) > OPTIONS"
    assert {k + 1 for k, i in enumerate(infos) if i.code_block is not None} == {14, 15, 16}
    text = {k + 1: i.text for k, i in enumerate(infos)}
    assert text[1] == "git-lift(1)" and text[2] == "" and text[5] == ""
    assert text[6] == "git-lift - Lift a crate, see git-drop"
    assert text[10] == "--high" and text[11] == "\tLift it high; see the height bug."
    assert text[12] == text[13] == text[17] == "" and infos[12].markup and infos[16].markup
    assert not infos[18].is_heading and not infos[19].is_heading and text[19] is None


def test_a_term_and_its_description_on_one_line_read_as_a_label_and_words() -> None:
    lines = ["`araxis`;;   Use Araxis Merge (requires a graphical session)", "CPU:: The brain of the computer.",
             "See std::vector and https://example.org/a::b for more."]
    assert [i.text for i in asciidoc_structure(lines)] == [
        "`araxis`: Use Araxis Merge (requires a graphical session)", "CPU: The brain of the computer.", None]


def test_an_attribute_made_of_another_reads_whole_and_a_passthrough_as_written() -> None:
    """Asciidoctor's own README: ":url-repo: {url-org}/asciidoctor" read "{url-org}/asciidoctor" where it was
    used, and "`+icon:fire[]+`" (text shown as written) read "`+fire+`"."""
    lines = [":url-org: https://github.com/crane", ":url-repo: {url-org}/lift", "", "== Help", "",
             "Source:: {url-repo}", "Icons (`+icon:fire[]+`) in C++ and a + b.", "  +-----+-----+ a table"]
    text = [i.text for i in asciidoc_structure(lines)]
    assert text[5] == "Source: https://github.com/crane/lift"
    assert text[6] == "Icons (`icon:fire[]`) in C++ and a + b." and text[7] is None


def test_a_txt_file_is_read_in_the_markup_its_lines_are_written_in() -> None:
    assert sniffed(MANPAGE) == "asciidoc" and line_structure("Documentation/git-lift.txt", MANPAGE)[3].is_heading
    rst_page = ["Sessions", "========", "", ".. module:: crane.sessions", "",
                "Enable them with :setting:`MIDDLEWARE`.", "", "Backends", "--------", "", "Use ``db``."]
    assert sniffed(rst_page) == "rst"
    infos = line_structure("docs/topics/sessions.txt", rst_page)
    assert infos[7].is_heading and infos[7].heading == "Sessions > Backends"
    assert infos[5].text == "Enable them with MIDDLEWARE."
    # Plain notes stay plain: no marker, or a single one quoted without a title.
    notes = ["Shopping list", "", "Remember: .. note:: is how reST writes a note.", "Buy larch."]
    assert sniffed(notes) == "" and line_structure("notes.txt", notes) == [PLAIN] * 4
    assert sniffed(["Title", "=====", "", "Just words."]) == ""  # a title alone says no more than plain text

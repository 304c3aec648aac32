"""Per-line Markdown structure: headings as a renderer reads them, code blocks, front matter."""

from __future__ import annotations

import pytest

from citebot.index.formats import line_structure
from citebot.index.markdown import PLAIN, LineInfo, inline_text, is_markdown, markdown_structure, strip_tags


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


@pytest.mark.parametrize("fence", ["```", "~~~", "````"])
def test_fence_lines_are_markup_and_the_code_between_them_is_not(fence: str) -> None:
    lines = ["Run it:", fence + "python {lint=\"skip\"}", "print('hi')", "", fence, "after", fence, "unclosed"]
    infos = markdown_structure(lines)
    assert [k + 1 for k, i in enumerate(infos) if i.markup] == [2, 5, 7]  # an unclosed fence has no closing line
    # Shown with the code, the opening fence without its build options (pydantic's '{lint="skip"}').
    assert infos[1].text == fence + "python" and infos[4].text is None


def test_table_rows_read_as_cells_and_an_opening_fence_as_its_language_and_title() -> None:
    """A pipe table's rows read as their cells (pydantic's V1/V2 table: no outer pipes, no padding), and an
    opening fence shows its language and title but not the build's options (MkDocs' hl_lines, pydantic's
    attribute lists), so neither a quoted line nor a passage shows markup."""
    lines = [
        "| Pydantic V1  | Pydantic V2    |",         # 1
        "| ------------ | -------------- |",         # 2
        "| `.dict()`    | `.model_dump()`|",         # 3
        "| a \\| b       | [docs](x.md)   |",        # 4: an escaped pipe stays in its cell
        "",
        '```py title="main.py" hl_lines="3 4"',     # 6
        "app = App()",
        "```",
        "",
        "```{code-block} python",                  # 10
        ":linenos:",
        "x = 1",
        "```",
    ]
    infos = markdown_structure(lines)
    assert [i.text for i in infos[:4]] == [
        "Pydantic V1 | Pydantic V2", "", "`.dict()` | `.model_dump()`", "a | b | docs"]
    assert not infos[0].markup and infos[1].markup
    assert infos[5].text == "```py (main.py)" and infos[5].markup
    assert infos[9].text == "```python"  # a MyST code directive names its language after the directive
    assert (infos[10].text, infos[10].markup) == ("", True) and infos[11].text is None  # its options: build only


def test_emphasis_reads_as_its_words_as_markdown_it_decides() -> None:
    """'**NOT**' is quoted escaped, so its stars would show; an intraword underscore (snake_case), a star
    between spaces and the stars in a code span are no emphasis and stay."""
    assert inline_text("changes will **NOT** be *considered* breaking") == "changes will NOT be considered breaking"
    assert inline_text("- **iTerm** Hold the OPTION key.") == "- iTerm Hold the OPTION key."
    assert inline_text("use model_dump or `a*b*c`, 2 * 3 * 4") == "use model_dump or `a*b*c`, 2 * 3 * 4"
    assert inline_text("  **Note:** keep `` `x` `` and [the docs](x.md)") == "  Note: keep `` `x` `` and the docs"


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
    for source in ("a.txt", "a.json", "a.yaml"):
        assert line_structure(source, lines) == [PLAIN] * 3
    assert line_structure("a.md", lines)[0] == LineInfo("Not a heading", True)


# A page as MkDocs/Material writes it (line numbers in the comments are the file's).
MKDOCS = [
    "---",                                            # 1  front matter
    "title: Models",                                  # 2
    "---",                                            # 3
    "# Models { #models }",                           # 4  heading with an attribute list
    "",                                               # 5
    '!!! note "Validation"',                          # 6  admonition marker with a title
    "    Models are validated on creation.",          # 7  its body, indented four spaces
    "",                                               # 8
    "    ```py",                                      # 9  a fence inside the admonition
    "    # not a heading",                            # 10
    "    ```",                                        # 11
    "",                                               # 12
    "??? tip",                                        # 13 collapsible admonition, no title
    "    Use strict mode.",                           # 14
    "",                                               # 15
    '=== "Python 3.10"',                              # 16 content tab
    "",                                               # 17
    "    {* ../../docs_src/models/x.py hl[6] *}",     # 18 include directive inside the tab
    "",                                               # 19
    '--8<-- "docs/snippet.md"',                       # 20 snippet include
    "{!> ../includes/x.md !}",                        # 21 include
    "/// tip | Strict mode",                          # 22 pymdownx block
    "Set `strict=True` on the <font color=red>model</font>.",  # 23 inline terminal HTML
    "///",                                            # 24
    "",                                               # 25
    "| a | b |",                                      # 26 table header
    "|---|:-:|",                                      # 27 its rule
    "| 1 | 2 |",                                      # 28
    "",                                               # 29
    "***",                                            # 30 horizontal rule
    "",                                               # 31
    "## Fields {#fields}",                            # 32
    "See [the guide](guide.md) and [`BaseModel`][pydantic.BaseModel].",  # 33 links show their text
    "[](){#anchor-only}",                             # 34 an autorefs anchor
    "::: pydantic.BaseModel",                         # 35 mkdocstrings
    "    options:",                                   # 36 its options, never seen
    "        show_root_heading: true",                # 37
    "",                                               # 38
    "After.",                                         # 39
]


def test_mkdocs_markers_are_markup_with_reader_text() -> None:
    infos = markdown_structure(MKDOCS)
    markup = {k + 1 for k, i in enumerate(infos) if i.markup}
    assert markup == {6, 9, 11, 13, 16, 18, 20, 21, 22, 24, 27, 30, 34, 35, 36, 37, 38}  # 9, 11: the fence's lines
    text = {k + 1: i.text for k, i in enumerate(infos) if i.text is not None}
    assert text[6] == "Note: Validation" and text[13] == "Tip" and text[16] == "Python 3.10"
    assert text[22] == "Tip: Strict mode" and text[24] == "" and text[27] == "" and text[30] == "" and text[34] == ""
    assert text[36] == text[37] == "" and 39 not in text
    assert text[35] == "(API reference: pydantic.BaseModel)", "what the built page shows there, not the syntax"
    assert text[4] == "# Models" and text[32] == "## Fields", "heading attributes are dropped"
    assert text[23] == "Set `strict=True` on the model."
    assert text[33] == "See the guide and `BaseModel`."
    assert text[7] == "Models are validated on creation." and text[14] == "Use strict mode.", "bodies dedented"
    assert (text[18], text[20], text[21]) == ("(from docs_src/models/x.py)", "(from docs/snippet.md)",
                                              "(from includes/x.md)"), "an include shows the file the page shows"


def test_mkdocs_bodies_are_prose_and_fences_inside_them_code() -> None:
    infos = markdown_structure(MKDOCS)
    code = {k + 1 for k, i in enumerate(infos) if i.code_block is not None}
    assert code == {9, 10, 11}, "an admonition body is prose, not an indented code block; its fence is code"
    assert [k + 1 for k, i in enumerate(infos) if i.is_heading] == [4, 32]
    assert infos[9].heading == "Models" and infos[32].heading == "Models > Fields"
    assert [k + 1 for k, i in enumerate(infos) if i.front_matter] == [1, 2, 3]


def test_admonition_markers_as_python_markdown_reads_them() -> None:
    """No space after the marker, and quotes inside the title: both are admonitions to Python-Markdown."""
    lines = ["!!!note", "    Body one.", "", '!!! note "on the "jsonable" nature"', "    Body two."]
    infos = markdown_structure(lines)
    assert [i.text for i in infos] == ["Note", "Body one.", None, 'Note: on the "jsonable" nature', "Body two."]
    assert infos[0].markup and infos[3].markup and not infos[1].markup and infos[1].code_block is None


def test_an_include_inside_a_fence_is_markup_and_attribute_lists_are_never_seen() -> None:
    """FastAPI's and Textual's docs put the example's file in a fence ("{!> ../x.py!}", '--8<-- "x.py"'): the
    built page shows the code there, the source only the include, which must never be cited as the code. It
    shows the file's name, not the directive (270 lines of the passages cited for Textual's dev questions were
    includes)."""
    lines = ['```Python hl_lines="9"', "{!> ../../docs_src/query_params/tutorial001.py!}", "```", "",
             "```python", '--8<-- "docs/examples/app.py"', "app.run()", "```", "",
             "See [Path Parameters](path-params.md#values){.internal-link target=_blank} and "
             "![a diagram](img/x.png){ loading=lazy }."]
    infos = markdown_structure(lines)
    assert [k + 1 for k, i in enumerate(infos) if i.markup] == [1, 2, 3, 5, 6, 8]
    assert infos[6].code_block is not None and not infos[6].markup, "the code beside it still answers"
    assert infos[1].text == "(from docs_src/query_params/tutorial001.py)"
    assert infos[5].text == "(from docs/examples/app.py)"
    assert infos[9].text == "See Path Parameters and a diagram."


def test_mdbooks_includes_show_the_file_they_put_there_and_its_title_is_never_seen() -> None:
    """An mdBook's chapters (the Rust book's sources) put each listing in a fence with "{{#rustdoc_include}}" or
    "{{#include}}", a part of the file after a colon; "{{#title}}" sets the page's <title>, shown nowhere."""
    lines = ["# Guessing Game", "{{#title Guessing Game}}", "", "```rust,ignore",
             "{{#rustdoc_include ../listings/ch02/listing-02-01/src/main.rs:print}}", "```", "",
             "```console", "{{#include ../listings/ch02/output.txt}}", "```", "", "{{#playground example.rs editable}}",
             "", "Print with `{{#include}}` in a sentence stays a sentence."]
    infos = markdown_structure(lines)
    assert [k + 1 for k, i in enumerate(infos) if i.markup] == [2, 4, 5, 6, 8, 9, 10, 12]
    assert infos[1].text == "" and infos[4].text == "(from listings/ch02/listing-02-01/src/main.rs)"
    assert infos[8].text == "(from listings/ch02/output.txt)" and infos[11].text == "(from example.rs)"
    assert not infos[13].markup, "only a directive on its own line is one"


def test_a_link_cut_by_a_line_break_reads_as_its_words_and_a_definition_is_never_seen() -> None:
    """Fastify's docs, wrapped at 80 columns, cut 83 links over two lines: a cited passage showed
    "Serialization](../Reference/Validation.md)". A reference definition and the "[//]: #" comment idiom
    (Textual's, pydantic's) are read into the links and never shown."""
    lines = ["# Fluent Schema", "", "The [Validation and", "Serialization](../Reference/Validation.md) docs, the",
             "[route", "options][routes] and this ![a", "diagram](img/x.png).", "", "Code `list[int` stays [as",
             "written.", "", "[routes]: ./Routes.md", "[//]: # (TODO: link the focus docs)", "",
             "```md", "[a", "b](c.md)", "[x]: y.md", "```"]
    shown = {k + 1: (line if i.text is None else i.text) for k, (line, i) in
             enumerate(zip(lines, markdown_structure(lines)))}
    assert [shown[k] for k in (3, 4, 5, 6, 7)] == [
        "The Validation and", "Serialization docs, the", "route", "options and this a", "diagram."]
    assert shown[9] == "Code `list[int` stays [as" and shown[10] == "written.", "no link: left as written"
    assert shown[12] == shown[13] == ""
    assert inline_text("Not [containerization](https://en.wikipedia.org/wiki/Docker_(software)) here.") == (
        "Not containerization here."), "a target with balanced parentheses"
    assert [shown[k] for k in (16, 17, 18)] == ["[a", "b](c.md)", "[x]: y.md"], "code is shown as written"


def test_a_link_over_three_lines_or_with_its_target_on_the_next_reads_as_its_words() -> None:
    """Fastify's guides also wrap a link's words over three lines ("[OAuth" / "Authorization Code" /
    "Flow](url)") and put a long target on the line below its text ("[here](" over "url)."); a bracket opened
    and left open past a blank line is no link."""
    lines = ["engage in the [OAuth", "Authorization Code", "Flow](https://auth0.com/x),", "which", "",
             "Learn more [here](", "https://vercel.com/docs/fluid-compute#enabling).", "", "a [b", "", "c](x) stays"]
    shown = [line if i.text is None else i.text for line, i in zip(lines, markdown_structure(lines))]
    assert shown[:3] == ["engage in the OAuth", "Authorization Code", "Flow,"]
    assert shown[5:7] == ["Learn more here", "."]
    assert shown[8] == "a [b" and shown[10] == "c](x) stays"


def test_empty_fences_block_attributes_and_macros_are_never_seen() -> None:
    """Textual's docs show each example's screenshot with an empty fence ('```{.textual path="app.py"}'): 137 of
    580 passages cited for its dev questions showed one as two lines of markup. Pydantic's put an id on a list
    item with an attribute list of its own line ("{#field-after-validator}") and generated tables with
    mkdocs-macros ("{{ conversion_table }}")."""
    lines = ["Output", "", '```{.textual path="docs/examples/app.py"}', "```", "", "```python", "", "```", "",
             "```python", "app.run()", "```", "* After validators.", "{#field-after-validator}", "{: .wide }",
             "{{ conversion_table }}", "{{ items | join }}", "```jinja", "{{ name }}", "```"]
    infos = markdown_structure(lines)
    assert [k + 1 for k, i in enumerate(infos) if i.text == ""] == [3, 4, 6, 7, 8, 14, 15, 16, 17]
    assert all(infos[k - 1].markup for k in (3, 4, 6, 7, 8, 14, 15, 16, 17))
    assert infos[10].text is None and not infos[10].markup, "a fence with code in it is shown as before"
    assert infos[18].text is None and not infos[18].markup, "a template's variable in a code block is code"


def test_nested_pymdownx_blocks_take_more_slashes() -> None:
    """FastAPI's and SQLModel's docs put each tab in "//// tab | Python 3.10+" ... "////" around "/// tip" blocks:
    with three slashes only, every tab's marker was read as a line of prose."""
    lines = ["//// tab | Python 3.10+", "", "/// tip | Prefer Annotated", "", "Use `Annotated`.", "", "///", "",
             "////", "", "/// details | Full file preview", "", "Body.", "", "///"]
    infos = markdown_structure(lines)
    assert [k + 1 for k, i in enumerate(infos) if i.markup] == [1, 3, 7, 9, 11, 15]
    assert [infos[k].text for k in (0, 2, 8, 10)] == ["Python 3.10+", "Tip: Prefer Annotated", "",
                                                      "Details: Full file preview"]
    assert infos[4].text is None and infos[12].text is None and not infos[4].markup


def test_a_term_with_a_tooltip_reads_with_its_gloss() -> None:
    """FastAPI's docs explain terms in tooltips ('<abbr title="...">'): the gloss is often the only plain words
    for the term, the ones a member asks in."""
    lines = ['* Data <abbr title="converting the string from a request into Python data">"parsing"</abbr>',
             'A <dfn title="a store of computed values">cache</dfn>, `<abbr title="x">y</abbr>` is code.']
    infos = markdown_structure(lines)
    assert infos[0].text == '* Data "parsing" (converting the string from a request into Python data)'
    assert infos[1].text == 'A cache (a store of computed values), `<abbr title="x">y</abbr>` is code.'


def test_a_terminal_drawn_in_html_reads_as_its_text() -> None:
    """FastAPI's console fences color their output with tags the page renders; an html fence's tags are code."""
    lines = ["```console", "$ fastapi run main.py",
             '<font color="#4E9A06">INFO</font>:     Watching [&apos;/code&apos;]',
             '<span style="color: green;">INFO</span>:  Running on <b>http://0.0.0.0:80</b>', "```", "",
             "```html", "<b>kept</b> &amp;", "```"]
    infos = markdown_structure(lines)
    assert [i.text for i in infos[1:4]] == [None, "INFO:     Watching ['/code']", "INFO:  Running on http://0.0.0.0:80"]
    assert infos[2].code_block is not None and not infos[2].markup, "still code, and it can answer"
    assert infos[7].text is None


def test_marker_lookalikes_inside_a_fence_are_code() -> None:
    lines = ["```md", '!!! note "x"', "    body", "///", "```"]
    infos = markdown_structure(lines)
    assert [i.markup for i in infos] == [True, False, False, False, True]  # only the fence's own lines
    assert all(i.code_block == 0 for i in infos) and all(i.text is None for i in infos[1:4])


def test_strip_tags_leaves_code_spans_alone() -> None:
    assert strip_tags("a <b>bold</b> `List<int>` <br/>") == "a bold `List<int>` "
    assert strip_tags("<https://example.org> 1 < 2") == "<https://example.org> 1 < 2"


# A Docusaurus page (.mdx): ES module lines, colon-fenced admonitions, JSX tabs (line numbers are the file's).
DOCUSAURUS = [
    "---",                                            # 1  front matter
    "sidebar_position: 2",                            # 2
    "---",                                            # 3
    "import Tabs from '@theme/Tabs';",                # 4  ES module lines: never seen
    "import TabItem from '@theme/TabItem';",          # 5
    "",                                               # 6
    "# Install",                                      # 7
    "",                                               # 8
    ":::tip[Before you start]",                       # 9  Docusaurus v3 admonition with a title
    "Install Node 18 or newer first.",                # 10 its body: prose
    ":::",                                            # 11
    "",                                               # 12
    ":::warning Root",                                # 13 Docusaurus v2 title
    "",                                               # 14
    "Never run the installer as root.",               # 15
    "",                                               # 16
    ":::",                                            # 17
    "",                                               # 18
    "<Tabs>",                                         # 19 JSX: tags only
    '  <TabItem value="npm" label="npm">',            # 20
    "",                                               # 21
    "```bash",                                        # 22
    "npm install crane",                              # 23
    ":::",                                            # 24 a colon line inside a fence is code
    "```",                                            # 25
    "",                                               # 26
    "  </TabItem>",                                   # 27
    "</Tabs>",                                        # 28
    "",                                               # 29
    "::: details Offline installs",                   # 30 VitePress container
    "Copy the tarball and run `npm install ./crane.tgz`.",  # 31
    ":::",                                            # 32
    "{/* TODO: yarn */}",                             # 33 JSX comment
    "export { Highlight } from './highlight';",       # 34
    "",                                               # 35
    "::: crane.Client",                               # 36 not a container name: mkdocstrings' API page
]

# MyST Markdown (Sphinx): directive fences, colon fences with options, labels and roles.
MYST = [
    "(install-guide)=",                               # 1  a label
    "# Install",                                      # 2
    "",                                               # 3
    "```{note}",                                      # 4  an admonition written as a fence
    "Cranes need a licence.",                         # 5  prose, not code
    "```",                                            # 6
    "",                                               # 7
    ":::{warning} Heavy loads",                       # 8
    ":class: dropdown",                               # 9  an option: never seen
    "Check the load chart first.",                    # 10
    ":::",                                            # 11
    "",                                               # 12
    "```{code-block} python",                         # 13 a code directive stays code
    "crane.lift()",                                   # 14
    "```",                                            # 15
    "",                                               # 16
    "```{toctree}",                                   # 17 build-only: never seen
    ":maxdepth: 2",                                   # 18
    "usage",                                          # 19
    "```",                                            # 20
    "",                                               # 21
    "````{versionadded} 2.0",                         # 22 a longer fence holds a code fence
    "Lifting now takes `speed`:",                     # 23
    "```python",                                      # 24
    "crane.lift(speed=2)",                            # 25
    "```",                                            # 26
    "````",                                           # 27
    "See {ref}`the usage page <usage>` and {py:class}`~crane.Crane`.",  # 28 roles as Sphinx shows them
]


MYST_RST = [
    "# Cranes",                                                 # 1  a Sphinx project written in MyST
    "",                                                         # 2
    "```{eval-rst}",                                            # 3  its body is reStructuredText
    ".. autoclass:: crane.Crane",                               # 4  an API object: heads what it documents
    "   :members:",                                             # 5
    "",                                                         # 6
    ".. note:: Cranes tip over in wind.",                       # 7  a reST admonition, read as one
    "",                                                         # 8
    ".. crane:example::",                                       # 9  a project's own directive whose body is Python
    "",                                                         # 10
    "    crane = Crane()",                                      # 11  code, as written
    "    crane.lift()",                                         # 12
    "```",                                                      # 13
    "After the block, Markdown again: [the guide](guide.md).",  # 14
]


def _facts(lines: list[str]) -> tuple[set[int], set[int], dict[int, str | None]]:
    infos = markdown_structure(lines)
    markup = {k + 1 for k, i in enumerate(infos) if i.markup}
    code = {k + 1 for k, i in enumerate(infos) if i.code_block is not None}
    return markup, code, {k + 1: i.text for k, i in enumerate(infos)}


def test_docusaurus_and_vitepress_markers_are_markup_and_their_bodies_prose() -> None:
    assert is_markdown("docs/intro.MDX")
    markup, code, text = _facts(DOCUSAURUS)
    assert markup == {4, 5, 9, 11, 13, 17, 19, 20, 22, 25, 27, 28, 30, 32, 33, 34, 36}
    assert code == {22, 23, 24, 25}, "a colon line inside a fence is code, and closes nothing"
    assert text[9] == "Tip: Before you start" and text[13] == "Warning: Root"
    assert text[30] == "Details: Offline installs"
    assert text[4] == text[5] == text[11] == text[33] == text[34] == ""
    assert text[10] is None and text[15] is None, "a body line is shown as written"
    assert text[36] == "(API reference: crane.Client)", "an API page line is not a container"
    assert [k + 1 for k, i in enumerate(markdown_structure(DOCUSAURUS)) if i.is_heading] == [7]


def test_myst_directives_are_markup_and_admonition_bodies_prose() -> None:
    markup, code, text = _facts(MYST)
    assert markup == {1, 4, 6, 8, 9, 11, 13, 15, 17, 18, 19, 20, 22, 24, 26, 27}
    assert code == {13, 14, 15, 24, 25, 26}, "a note's body is prose; code directives and fences inside are code"
    assert text[4] == "Note" and text[8] == "Warning: Heavy loads" and text[22] == "New in version 2.0"
    assert text[1] == text[9] == text[18] == text[19] == ""
    assert text[28] == "See the usage page and Crane."
    infos = markdown_structure(MYST)
    assert infos[4].heading == "Install" and [k + 1 for k, i in enumerate(infos) if i.is_heading] == [2]


def test_myst_eval_rst_bodies_are_read_as_restructuredtext() -> None:
    """Sphinx projects written in MyST keep their autodoc and their own directives in ``{eval-rst}`` blocks:
    read as a code block, a ``.. note::`` was never an admonition and an example's code read as one flat block
    with its directive lines."""
    markup, code, text = _facts(MYST_RST)
    infos = markdown_structure(MYST_RST)
    assert markup == {3, 4, 5, 9, 10, 13} and code == {11, 12}, "a reST directive's Python body is code"
    assert text[4] == "crane.Crane" and infos[3].is_heading and infos[4].heading == "Cranes > crane.Crane"
    assert text[7] == "Note: Cranes tip over in wind." and infos[6].heading == "Cranes"
    assert text[3] == text[5] == text[9] == text[13] == "" and text[11] is None
    assert text[14] == "After the block, Markdown again: the guide." and infos[13].heading == "Cranes"
    unclosed = markdown_structure(["# T", "```{eval-rst}", ".. note:: Open to the end."])
    assert unclosed[2].text == "Note: Open to the end."


def test_myst_layout_containers_show_nothing_but_their_bodies() -> None:
    lines = ["::::{grid} 2", ":gutter: 1", ":::{grid-item-card} Fast", "Very fast cranes.", ":::", "::::",
             "```{image} crane.png", ":alt: a crane", "```"]
    markup, code, text = _facts(lines)
    assert markup == {1, 2, 3, 5, 6, 7, 8, 9} and not code
    assert text[1] == text[2] == text[8] == "" and text[3] == "Grid item card: Fast" and text[4] is None


def test_a_jsx_tag_over_several_lines_is_never_seen() -> None:
    lines = ["<Tabs", '  groupId="os"', "  values={[", "    {label: 'Linux', value: 'linux'},", "  ]}>",
             "Pick your system.", "</Tabs>", "<Note> inline is fine </Note>"]
    markup, _, text = _facts(lines)
    assert markup == {1, 2, 3, 4, 5, 7} and all(text[k] == "" for k in (1, 2, 3, 4, 5, 7))
    assert text[6] is None and text[8] == " inline is fine "
    unclosed = ["<Foo is what we call it", "and it goes on", "", "Next paragraph."]
    assert _facts(unclosed)[0] == set(), "a stray '<Word' that no tag end follows hides nothing"


def test_container_lookalikes_are_left_alone() -> None:
    lines = ["Ratio 3:::1 is fine.", "::: pydantic.BaseModel", "    options:", "        members: true", "Next."]
    markup, _, text = _facts(lines)
    assert markup == {2, 3, 4} and text[1] is None and text[5] is None
    assert text[2] == "(API reference: pydantic.BaseModel)"
    assert _facts(["import os", "export PATH=/bin", "Use `{ref}`."])[0] == set(), "not ES modules, not a role"


# GitBook and Jekyll (Liquid tags) and Hugo (shortcodes): tags on their own lines are markup.
TEMPLATES = [
    "# Deploy",                                       # 1
    '{% hint style="warning" %}',                     # 2  GitBook hint: reads as its label
    "Keep the token out of the repository.",          # 3  prose
    "{% endhint %}",                                  # 4
    "{% tabs %}",                                     # 5
    '{% tab title="Linux" %}',                        # 6  a tab reads as its title
    "Run the service with systemd.",                  # 7
    "{% endtab %}",                                   # 8
    "{% endtabs %}",                                  # 9
    "{% highlight ruby %}",                           # 10 a highlight block is code
    "bot.run(token)",                                 # 11
    "# not a heading",                                # 12
    "{% endhighlight %}",                             # 13
    "{{< notice tip >}}",                             # 14 Hugo notice
    "Restart after upgrading.",                       # 15
    "{{< /notice >}}",                                # 16
    "{% include footer.html %}",                      # 17
    "Use {{ site.title }} in prose.",                 # 18 an inline expression is left as written
]


def test_template_tags_are_markup_and_highlight_blocks_code() -> None:
    markup, code, text = _facts(TEMPLATES)
    assert markup == {2, 4, 5, 6, 8, 9, 10, 13, 14, 16, 17}
    assert code == {10, 11, 12, 13} and [k + 1 for k, i in enumerate(markdown_structure(TEMPLATES))
                                          if i.is_heading] == [1]
    assert text[2] == "Warning" and text[6] == "Linux" and text[14] == "Tip"
    assert all(text[k] == "" for k in (4, 5, 8, 9, 10, 13, 16, 17))
    assert text[3] is None and text[11] is None and text[18] is None
    hugo = ["{{< highlight go >}}", "# not a heading", "{{< /highlight >}}", "After."]
    assert [i.code_block is not None for i in markdown_structure(hugo)] == [True, True, True, False]


def test_emoji_shortcodes_read_as_their_emoji() -> None:
    """pydantic's docs title tabs ':x: Bad' and ':white_check_mark: Good' (pymdownx.emoji): a member sees the
    emoji; a theme icon is a picture without words; a code span and any other ":word:" stay as written."""
    lines = ['=== ":x: Bad"', "", "    Slow.", "", "Use :white_check_mark: here, not `:x:`; :material-check: and "
             "a ratio of 1:2:3 or :param: stay."]
    infos = markdown_structure(lines)
    assert infos[0].text == "❌ Bad" and infos[0].markup
    assert infos[4].text == "Use ✅ here, not `:x:`;  and a ratio of 1:2:3 or :param: stay."

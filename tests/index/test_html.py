"""HTML read with a real parser: the text a browser shows, on the line it came from; headings, <pre> code, and
scripts, styles, navigation and tag-only lines hidden."""

from __future__ import annotations

from citebot.index.formats import line_structure
from citebot.index.html import html_structure

HTML = [
    "<!DOCTYPE html>",                                   # 1
    "<html><head>",                                      # 2
    "  <title>Guide</title>",                            # 3
    "  <style>p { color: red; }</style>",                # 4
    "</head><body>",                                     # 5
    '<nav><a href="/">Home</a> | <a href="/d">Docs</a></nav>',  # 6
    "<h1>Crane guide</h1>",                              # 7
    "<p>Cranes lift <b>containers</b> &amp; crates",     # 8
    "from the ships.</p>",                               # 9
    '<h2 id="setup">Set',                                # 10 a heading over two lines
    "up</h2>",                                           # 11
    "<pre><code>pip install crane",                      # 12
    "  crane --start &lt;now&gt;",                       # 13
    "</code></pre>",                                     # 14
    "<script>",                                          # 15
    'var x = "<p>not text</p>";',                        # 16
    "</script>",                                         # 17
    "<h2>Use</h2><p>Ask the crane.</p>",                 # 18
    "<footer>Copyright</footer>",                        # 19
    "</body></html>",                                    # 20
]


def _shown(lines: list[str]) -> dict[int, str]:
    """What a reader sees on each line (1-based), as the chunker will store it."""
    infos = html_structure(lines)
    return {k + 1: (line if i.text is None else i.text) for k, (line, i) in enumerate(zip(lines, infos))}


def _unseen(lines: list[str]) -> set[int]:
    """The lines (1-based) a reader never sees."""
    return {k for k, s in _shown(lines).items() if not s.strip()}


def test_text_is_extracted_on_its_own_line() -> None:
    shown = _shown(HTML)
    assert shown[8] == "Cranes lift containers & crates" and shown[9] == "from the ships."
    assert shown[13] == "  crane --start <now>", "code keeps its spaces, entities decoded"
    assert shown[18] == "Use Ask the crane.", "block elements never run their words together"
    assert _unseen(HTML) == {1, 2, 3, 4, 5, 6, 14, 15, 16, 17, 19, 20}


def test_hidden_and_tag_only_lines_are_markup() -> None:
    infos = html_structure(HTML)
    assert {k + 1 for k, i in enumerate(infos) if i.markup} == {1, 2, 3, 4, 5, 6, 14, 15, 16, 17, 19, 20}


def test_headings_and_pre() -> None:
    infos = html_structure(HTML)
    assert [infos[k].heading for k in (7, 12, 17)] == ["Crane guide", "Crane guide > Set up", "Crane guide > Use"]
    assert {k + 1 for k, i in enumerate(infos) if i.is_heading} == {7, 10, 11}, (
        "18 holds a paragraph after its heading: a line that can answer, in the heading's section")
    assert {k + 1 for k, i in enumerate(infos) if i.code_block is not None} == {12, 13, 14}


def test_a_minified_page_is_one_line_that_can_answer_under_its_heading() -> None:
    page = ['<html><body><h1>Cranes</h1><p>Cranes lift containers.</p><h2>Setup</h2><p>Run the installer.</p>'
            "</body></html>"]
    info = html_structure(page)[0]
    assert not info.is_heading and not info.markup, "a heading on the line does not make the page a heading"
    assert info.text == "Cranes Cranes lift containers. Setup Run the installer."
    assert info.heading == "Cranes > Setup", "the path of the last heading it holds, as for any line"


def test_broken_html_still_maps_every_line() -> None:
    lines = ["<p>unclosed <b>bold", "</div></span> stray", "<h3>never closed", "text &bogus; <", "<!-- open"]
    assert len(line_structure("page.htm", lines)) == len(lines)
    assert html_structure([]) == []


# A page as Sphinx builds it: furniture marked by attributes, not by tags.
SPHINX = [
    '<div class="related" role="navigation" aria-label="related navigation">',  # 1
    '<a href="genindex.html">Index</a></div>',                                  # 2
    '<div class="body" role="main">',                                          # 3
    '<h1>Installing<a class="headerlink" href="#installing" title="Link">¶</a></h1>',  # 4
    "<p>Run the installer once.</p>",                                          # 5
    '<h2>Upgrading<a class="hash-link" href="#up">#</a></h2>',                 # 6
    '<p>Upgrade with pip.<span aria-hidden="true">🔗</span></p>',              # 7
    "<p hidden>Draft text.</p>",                                               # 8
    "</div>",                                                                  # 9
    '<div class="sphinxsidebar" role="navigation">',                           # 10
    "<p>Quick search</p>",                                                     # 11
    "</div>",                                                                  # 12
]


def test_furniture_marked_by_attributes_is_hidden() -> None:
    infos = html_structure(SPHINX)
    shown = _shown(SPHINX)
    assert shown[4] == "Installing" and shown[6] == "Upgrading", "a permalink is not part of its heading"
    assert shown[5] == "Run the installer once." and shown[7] == "Upgrade with pip."
    assert _unseen(SPHINX) == {1, 2, 3, 8, 9, 10, 11, 12}
    assert infos[6].heading == "Installing > Upgrading"


# What themes add around the content, as Sphinx's classic theme, Alabaster and Furo build pages.
THEMED = [
    '<div class="visually-hidden">Hide navigation sidebar</div>',                               # 1
    '<a href="#" class="back-to-top muted-link"><span>Back to top</span></a>',                 # 2
    "<h1>Files</h1>",                                                                          # 3
    "<p>Read a line with readline:</p>",                                                       # 4
    '<div class="highlight-python3 notranslate"><div class="highlight"><pre><span></span>'
    '<span class="gp">&gt;&gt;&gt; </span>f.readline()',                                       # 5
    "  &#39;first line\\n&#39;",                                                               # 6
    "</pre></div></div>",                                                                      # 7
    '<span class="sr-only">(opens a new tab)</span><p>Close it after.</p>',                    # 8
    '<div class="footer">&copy; Copyright 2001-2026. Created using Sphinx.</div>',             # 9
    '<a href="#intro" class="md-skip">Skip to content</a>',                                    # 10
    '<table class="highlighttable"><tr><td class="linenos"><div class="linenodiv"><pre>'
    '<span class="normal">1</span>',                                                           # 11
    '<span class="normal">2</span></pre></div></td><td class="code"><div><pre><code>import os',  # 12
    "print(os.sep)",                                                                           # 13
    "</code></pre></div></td></tr></table>",                                                   # 14
    '<dialog id="pst-search-dialog"><form><kbd>Ctrl</kbd>+<kbd>K</kbd></form></dialog>',       # 15
    '<div class="bd-sidebar-secondary bd-toc"><div class="page-toc">On this page</div></div>',  # 16
    '<div class="onlyprint"><h2>Contents</h2></div>',                                           # 17
    '<form class="bd-search"><kbd>Ctrl</kbd>+<kbd>K</kbd> Was this page helpful?</form>',       # 18
]


def test_theme_furniture_and_screen_reader_labels_are_hidden() -> None:
    assert _unseen(THEMED) == {1, 2, 7, 9, 10, 11, 14, 15, 16, 17, 18}
    assert _shown(THEMED)[8] == "Close it after."


# A chapter as mdBook builds it (the Rust book in Debian's rust-doc): its menu bar names the book in an <h1> on
# every page, and a Rust example wraps the lines shown in hidden ("boring") ones.
MDBOOK = [
    '<div id="menu-bar" class="menu-bar sticky bordered">',                                   # 1
    '<ul id="theme-list" class="theme-popup"><li>Light (default)</li><li>Ayu</li></ul>',      # 2
    '<h1 class="menu-title">The Rust Programming Language</h1>',                              # 3
    '<a href="print.html" title="Print this book"><i class="fa fa-print"></i></a>',           # 4
    "</div>",                                                                                  # 5
    '<main><h1 id="what-is-ownership">What Is Ownership?</h1>',                               # 6
    "<p>Strings can be mutated:</p>",                                                          # 7
    '<pre><pre class="playground"><code class="language-rust"><span class="boring">fn main() {',  # 8
    '</span>    let mut s = String::from("hello");',                                           # 9
    '    s.push_str(", world!");',                                                             # 10
    '<span class="boring">}',                                                                  # 11
    "</span></code></pre></pre>",                                                              # 12
    "</main>",                                                                                 # 13
]


def test_mdbooks_menu_bar_and_an_examples_hidden_lines_are_not_the_page() -> None:
    shown, infos = _shown(MDBOOK), html_structure(MDBOOK)
    assert _unseen(MDBOOK) == {1, 2, 3, 4, 5, 8, 11, 12, 13}, "the book's title is not each page's first heading"
    assert infos[5].is_heading and infos[6].heading == "What Is Ownership?"
    assert shown[9] == '    let mut s = String::from("hello");' and infos[8].code_block is not None
    assert infos[8].code_block == infos[9].code_block, "the lines shown are one block"


def test_the_first_line_of_a_highlighted_block_is_not_indented_by_the_divs_around_it() -> None:
    shown = _shown(THEMED)
    assert shown[5] == ">>> f.readline()" and shown[6] == "  'first line\\n'"
    assert shown[4] == "Read a line with readline:"
    assert _shown(["<p>Run:</p>  <div><pre>make  all", "</pre></div>"])[1] == "Run: make  all", (
        "the prose before the code collapses, the code keeps its spaces")


def test_a_line_number_gutter_is_not_read_into_the_code() -> None:
    shown, infos = _shown(THEMED), html_structure(THEMED)
    assert shown[12] == "import os" and shown[13] == "print(os.sep)", "the gutter's numbers are not code"
    assert infos[11].code_block is not None and infos[11].code_block == infos[12].code_block


# An API reference page as Sphinx builds it: each object a <dl>, its signature a <dt>, methods nested in classes.
API = [
    "<h1>json</h1>",                                                                           # 1
    '<dl class="py function">',                                                                # 2
    '<dt class="sig sig-object py" id="json.dump"><span class="sig-prename">json.</span>'
    '<span class="sig-name">dump</span>(<em>obj</em>, <em>fp</em>)'
    '<a class="headerlink" href="#json.dump">¶</a></dt>',                                      # 3
    "<dd><p>Serialize obj as a JSON formatted stream to fp.</p></dd>",                         # 4
    "</dl>",                                                                                   # 5
    '<dl class="py class">',                                                                   # 6
    '<dt class="sig sig-object py" id="json.JSONDecoder"><em class="property">class </em>'
    "json.JSONDecoder(<em>object_hook=None</em>)</dt>",                                        # 7
    "<dd><p>Simple JSON decoder.</p>",                                                         # 8
    '<dl class="py method"><dt id="json.JSONDecoder.decode">decode(<em>s</em>)</dt>',          # 9
    "<dd><p>Return the Python representation of s.</p></dd></dl>",                             # 10
    "<p>After the methods.</p></dd></dl>",                                                     # 11
    '<dl class="simple"><dt>term</dt><dd>A glossary entry, not an API object.</dd></dl>',      # 12
    '<dl class="std cmdoption"><dt class="sig sig-object std" id="cmdoption-sort-keys">'
    "--sort-keys</dt><dd><p>Sort the output by key.</p></dd></dl>",                            # 13
]


def test_an_api_object_heads_its_body_and_names_it_in_the_heading_path() -> None:
    infos = html_structure(API)
    path = {k + 1: i.heading for k, i in enumerate(infos)}
    assert path[4] == "json > json.dump"
    assert path[8] == "json > json.JSONDecoder", "the signature's words before the name are not the name"
    assert path[10] == "json > json.JSONDecoder > decode", "older Sphinx: the <dl>'s domain marks the object"
    assert path[11] == "json > json.JSONDecoder" and path[12] == "json", "a glossary list is not an API object"
    assert path[13] == "json > --sort-keys"
    assert {k + 1 for k, i in enumerate(infos) if i.is_heading} == {1, 3, 7, 9}, "13 holds its body too"
    assert _shown(API)[3] == "json.dump(obj, fp)", "the permalink is not part of the signature"


def test_an_admonition_title_is_shown_as_a_label_never_the_answering_line() -> None:
    lines = ['<div class="admonition note">', '<p class="admonition-title">Note</p>',
             "<p>Cranes need a licence.</p>", "</div>",
             '<p class="admonition-title">Tip</p><p>Lift slowly.</p>']
    infos, shown = html_structure(lines), _shown(lines)
    assert shown[2] == "Note" and infos[1].markup, "shown as context, like Markdown's '!!! note'"
    assert not infos[2].markup and not infos[4].markup, "a line with other text on it can still answer"

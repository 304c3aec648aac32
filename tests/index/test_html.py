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


def test_text_is_extracted_on_its_own_line() -> None:
    shown = _shown(HTML)
    assert shown[8] == "Cranes lift containers & crates" and shown[9] == "from the ships."
    assert shown[13] == "  crane --start <now>", "code keeps its spaces, entities decoded"
    assert shown[18] == "Use Ask the crane.", "block elements never run their words together"
    assert {k for k, s in shown.items() if not s.strip()} == {1, 2, 3, 4, 5, 6, 14, 15, 16, 17, 19, 20}


def test_hidden_and_tag_only_lines_are_markup() -> None:
    infos = html_structure(HTML)
    assert {k + 1 for k, i in enumerate(infos) if i.markup} == {1, 2, 3, 4, 5, 6, 14, 15, 16, 17, 19, 20}


def test_headings_and_pre() -> None:
    infos = html_structure(HTML)
    assert [infos[k].heading for k in (7, 12, 17)] == ["Crane guide", "Crane guide > Set up", "Crane guide > Use"]
    assert {k + 1 for k, i in enumerate(infos) if i.is_heading} == {7, 10, 11, 18}
    assert {k + 1 for k, i in enumerate(infos) if i.code_block is not None} == {12, 13, 14}


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
    assert {k for k, s in shown.items() if not s.strip()} == {1, 2, 3, 8, 9, 10, 11, 12}
    assert infos[6].heading == "Installing > Upgrading"

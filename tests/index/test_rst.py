"""reStructuredText read by docutils: sections give heading paths, directives and targets are markup, roles read
as their text, literal blocks and code directives are code, and every line keeps its number."""

from __future__ import annotations

from pathlib import Path

import pytest

from citebot.index import rst
from citebot.index.formats import line_structure
from citebot.index.structure import PLAIN, reader_text

# Line numbers in the comments are the file's.
RST = [
    ":orphan:",                                                   # 1  file-wide metadata
    "",                                                           # 2
    ".. _intro:",                                                 # 3  a target
    "",                                                           # 4
    "=======",                                                    # 5  overline
    " Guide",                                                     # 6  title
    "=======",                                                    # 7  underline
    "",                                                           # 8
    "Use :class:`discord.Client` and :meth:`~.Client.run` (:issue:`42`).",  # 9 roles
    "",                                                           # 10
    "Install",                                                    # 11 a section
    "-------",                                                    # 12
    "",                                                           # 13
    ".. note:: Needs Python 3.8",                                 # 14 an admonition with its words on its line
    "   or later.",                                               # 15
    "",                                                           # 16
    ".. code-block:: python",                                     # 17 a code directive
    "   :linenos:",                                               # 18 its option
    "",                                                           # 19
    "   # not a heading",                                         # 20 its body: code
    "   import discord",                                          # 21
    "",                                                           # 22
    "Run this::",                                                 # 23 a literal block follows
    "",                                                           # 24
    "    $ pip install discord.py",                               # 25
    "",                                                           # 26
    ".. autoclass:: Client",                                      # 27 an API object without a body
    "    :members:",                                              # 28
    "",                                                           # 29
    ".. class:: Intents",                                         # 30 an API object with a body
    "",                                                           # 31
    "    .. attribute:: guilds",                                  # 32
    "",                                                           # 33
    "        Whether guild events are sent. See `the docs <https://x.org>`_.",  # 34
    "",                                                           # 35
    ".. a comment",                                               # 36
    "   that goes on",                                            # 37
    "",                                                           # 38
    "----",                                                       # 39 a transition
    "",                                                           # 40
    "Usage",                                                      # 41 a second section at level 2
    "-----",                                                      # 42
    "",                                                           # 43
    ">>> client.run(token)",                                      # 44 a doctest block
    "",                                                           # 45
    ".. unknown-sphinx-thing:: arg",                              # 46 a directive docutils never heard of
    "   :opt: x",                                                 # 47
]


@pytest.fixture(scope="module")
def infos() -> list:
    return rst.rst_structure(RST)


def _lines(infos: list, pred) -> set[int]:  # type: ignore[no-untyped-def]
    return {k + 1 for k, i in enumerate(infos) if pred(i)}


def test_sections_give_heading_paths_like_markdown(infos: list) -> None:
    assert infos[8].heading == "Guide"
    assert infos[13].heading == "Guide > Install" and infos[42].heading == "Guide > Usage"
    assert _lines(infos, lambda i: i.is_heading) >= {5, 6, 7, 11, 12, 41, 42}
    assert [infos[k].text for k in (4, 5, 6, 11)] == ["", "Guide", "", ""], "adornments are never shown"


def test_roles_and_links_read_as_their_text(infos: list) -> None:
    assert infos[8].text == "Use discord.Client and run() (#42)."
    assert infos[33].text == "Whether guild events are sent. See the docs."
    assert infos[22].text == "Run this:"


def test_directives_targets_comments_and_transitions_are_markup(infos: list) -> None:
    markup = _lines(infos, lambda i: i.markup)
    assert {1, 3, 17, 18, 27, 28, 30, 32, 36, 37, 39, 46, 47} <= markup
    assert not markup & {9, 15, 21, 25, 34, 44}, "prose and code are never markup"
    hidden = _lines(infos, lambda i: i.text == "")
    assert {1, 3, 17, 18, 28, 36, 37, 39, 47} <= hidden, "build-only lines are not chunked"
    assert infos[13].text == "Note: Needs Python 3.8" and not infos[13].markup, "an admonition's words are prose"
    assert infos[26].text == "Client" and infos[29].text == "Intents" and infos[31].text == "guilds"


def test_api_objects_extend_the_heading_path(infos: list) -> None:
    assert infos[33].heading == "Guide > Install > Intents > guilds"
    assert infos[29].is_heading and infos[31].is_heading


def test_literal_blocks_code_directives_and_doctests_are_code(infos: list) -> None:
    code = _lines(infos, lambda i: i.code_block is not None)
    assert {20, 21, 25, 44} <= code
    assert not code & {17, 18, 23, 34}
    assert infos[19].code_block == infos[20].code_block != infos[24].code_block


def test_one_info_per_line_and_nothing_printed(capsys: pytest.CaptureFixture[str]) -> None:
    broken = ["Title", "===", "", ".. code-block::", "", "`unclosed", ":role:`x", "|undefined|", "* a", "b"]
    assert len(line_structure("x.rst", broken)) == len(broken)
    assert len(line_structure("x.rst", RST)) == len(RST)
    out = capsys.readouterr()
    assert out.out == out.err == ""


def test_include_never_reads_another_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secret.txt").write_text("secret words\n")
    monkeypatch.chdir(tmp_path)
    lines = [".. include:: secret.txt", "", ".. raw:: html", "   :file: secret.txt", "", "Text."]
    infos = rst.rst_structure(lines)
    assert all("secret" not in (i.text or "") for i in infos) and infos[5].text is None


def test_a_file_docutils_cannot_read_falls_back_to_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(lines: object) -> object:
        raise RuntimeError("docutils gave up")

    monkeypatch.setattr(rst, "parse_tree", boom)
    assert line_structure("x.rst", RST) == [PLAIN] * len(RST)


@pytest.mark.parametrize(("role", "target", "shown"), [
    ("class", "discord.Client", "discord.Client"), ("class", "~discord.Client", "Client"),
    ("meth", "~.foo", "foo()"), ("func", "discord.utils.get", "discord.utils.get()"),
    ("ref", "the intents page <intents>", "the intents page"), ("attr", "!Client.user", "Client.user"),
    ("issue", "1234", "#1234"), ("ref", "intents_primer", "intents primer"), ("ref", "discord-intro", "discord intro"),
    ("ref", "py:slots", "slots"), ("ghpull", "10959", "#10959"),
    # outside a folder's reading (xref.py): a page as its path from the root, a title cut by a line break whole
    ("doc", "../faq", "faq"), ("doc", "/topics/http/urls", "topics/http/urls"),
    ("doc", "py:tutorial/venv", "tutorial/venv"),
    ("ref", "cooperative\nconstructors <uncooperative-constructors>", "cooperative constructors"),
])
def test_role_text(role: str, target: str, shown: str) -> None:
    assert rst.role_text(role, target) == shown


CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "discordpy-docs" / "docs"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared discord.py docs corpus is not here")
def test_every_discordpy_file_parses_with_sections() -> None:
    """Each file of a real Sphinx project parses (no fallback) and finds its sections."""
    for path in sorted(CORPUS.rglob("*.rst")):
        lines = path.read_text(encoding="utf-8").splitlines()
        infos = rst.rst_structure(lines)
        assert len(infos) == len(lines)
        if path.stat().st_size > 5000:
            assert any(i.is_heading for i in infos), path.name


@pytest.mark.parametrize(("line", "shown"), [
    ("Where can I use ``await``\\?", "Where can I use `await`?"),
    ("Keep ``a\\b`` as written", "Keep `a\\b` as written"),
    ("See `the guide <https://x.org/guide>`_ and `PEP 8`_.", "See the guide and PEP 8."),
    ("For example::", "For example:"),
    ("as below: ::", "as below:"),
])
def test_inline_text(line: str, shown: str) -> None:
    assert rst.inline_text(line) == shown


def test_layout_directives_are_no_headings_and_their_bodies_prose() -> None:
    lines = [".. grid:: 2", "", "   .. grid-item::", "", "      Cranes lift.", "", ".. tab-set::", "",
             "   .. tab-item:: Linux", "", "      Run it."]
    infos = rst.rst_structure(lines)
    assert [k + 1 for k, i in enumerate(infos) if i.is_heading] == [9], "a tab names its body; a grid does not"
    assert infos[4].heading == "" and infos[4].text == "Cranes lift." and not infos[4].markup
    assert infos[10].heading == "Linux" and infos[0].text == "" and infos[6].text == ""


def test_a_project_directive_whose_body_is_python_is_code() -> None:
    """Sphinx extensions show examples through their own directives (``.. click:example::``, ``.. plot::``):
    read as prose, their code lost its indentation and a line of it could be cited as the answer's words."""
    lines = [".. click:example::", "", "    @click.command()", "    def hello():", "        click.echo('Hi')", "",
             ".. click:run::", "", "    invoke(hello)", "", ".. describe:: greeting", "", "    Says hello.", "",
             ".. describe:: name", "", "    name"]
    infos = rst.rst_structure(lines)
    code = {k + 1 for k, i in enumerate(infos) if i.code_block is not None}
    assert code == {3, 4, 5, 9}, "a call or a definition is code; words (even one word) are not"
    assert infos[3].text is None, "code is shown as written, indentation kept"
    assert infos[0].text == "" and infos[0].markup and not infos[0].is_heading
    assert infos[12].text == "Says hello." and infos[12].heading == "greeting" and infos[16].text == "name"


def test_a_project_directive_that_shows_a_shell_session_is_code() -> None:
    """Django's ``.. console::`` and any project's directive whose body opens at a prompt ("$ ", ">>> ",
    "C:\\> ") show a session, not words; a body that merely mentions a price does not."""
    lines = [".. console::", "", "    $ python -m django --version", "", ".. shell-session::", "",
             "    C:\\> py -m pip install crane", "", ".. describe:: cost", "", "    $5 a month, billed yearly."]
    infos = rst.rst_structure(lines)
    assert {k + 1 for k, i in enumerate(infos) if i.code_block is not None} == {3, 7}
    assert infos[10].text == "$5 a month, billed yearly."


def test_info_fields_read_as_sphinx_labels_them() -> None:
    """An API object's ``:rtype: bool`` reads "Return type: bool", as the built page shows it; the raw field
    name ("rtype") is a word no member types."""
    lines = [".. attribute:: guild", "", "   The guild.", "", "   :type: Optional[:class:`Guild`]", "",
             ".. method:: fetch(limit)", "", "   :param int limit: How many to fetch.",
             "   :raises HTTPException: It failed.", "   :returns: The messages.", "   :rtype: list",
             "   :orphan: not a field Sphinx labels"]
    text = [i.text for i in rst.rst_structure(lines)]
    assert text[4] == "Type: Optional[Guild]"
    assert text[8:12] == ["Parameter int limit: How many to fetch.", "Raises HTTPException: It failed.",
                          "Returns: The messages.", "Return type: list"]
    assert text[12] == "orphan: not a field Sphinx labels"  # any other field: its name and value, as docutils


def test_emphasis_reads_as_its_words_but_stars_that_are_no_emphasis_stay() -> None:
    """A quoted line is escaped, so "**not**" would be shown with its stars; docutils' rules say which stars
    are emphasis: not "*args, **kwargs", "2 * 3", an escaped "\\*", or a star inside a literal."""
    assert rst.inline_text("we **do not** have to change *anything*.") == "we do not have to change anything."
    assert rst.inline_text("def f(*args, **kwargs) and 2 * 3 * 4") == "def f(*args, **kwargs) and 2 * 3 * 4"
    assert rst.inline_text("``a*b*`` and \\*not\\* emphasis") == "`a*b*` and *not* emphasis"


def test_grid_tables_fields_and_default_role_titles_read_as_the_page_shows_them() -> None:
    """A grid table's row reads as its cells, a body field list as its names and values, a titled reference
    in the default role as its title (discord.py's migration tables, pytest's exit codes, Celery's docs). They
    used to be shown with the pipes and padding, the field's colons, the target in angle brackets."""
    lines = [
        "Title", "=====", "",                                                         # 1-3
        ":Release: |version|", "",                                                    # 4: the build fills it in
        "+---------------------+-----------------------------+",                      # 6
        "| Before              | After                       |",                      # 7
        "+=====================+=============================+",                      # 8
        "| ``Client.send``     | :meth:`abc.Messageable.send`  |",                    # 9
        "|                     | (in a channel)              |",                      # 10: a cell wrapped on
        "+---------------------+-----------------------------+", "",                  # 11
        ":Exit code 0: All tests passed", ":Exit code 1: Some tests failed", "",      # 13-14
        "Use another transport, like `RabbitMQ <broker-amqp>`, or ``a <b>``.", "",    # 16
        "| a line block | not a table |",                                            # 18
    ]
    infos = rst.rst_structure(lines)
    text = [reader_text(line, info) for line, info in zip(lines, infos)]
    assert (text[3], infos[3].markup) == ("", True)
    assert text[6] == "Before | After"
    assert text[8] == "`Client.send` | abc.Messageable.send()"
    assert text[9] == "(in a channel)"
    assert infos[5].markup and infos[7].markup and infos[10].markup and not infos[8].markup
    assert text[12:14] == ["Exit code 0: All tests passed", "Exit code 1: Some tests failed"]
    assert text[15] == "Use another transport, like RabbitMQ, or `a <b>`."  # a literal keeps its brackets
    assert text[17] == "| a line block | not a table |"


def test_a_directive_opening_a_list_item_is_a_directive() -> None:
    infos = rst.rst_structure(["Types:", "", "*   .. autoclass:: Choice", "       :noindex:", "", "*   Plain item."])
    assert infos[2].text == "Choice" and infos[2].is_heading and infos[3].text == "" and infos[3].markup
    assert infos[5].text is None and not infos[5].markup


def test_a_generic_admonition_takes_its_title_and_hides_its_options() -> None:
    """``.. admonition:: Cogs`` names its box; its ``:class: helpful`` option was shown as a line of prose in the
    passages cited from discord.py's docs."""
    infos = rst.rst_structure([".. admonition:: Cogs", "    :class: helpful", "", "    Extensions go with cogs.",
                               "", ".. note:: Inline words.", "    More words."])
    assert [i.text for i in infos[:4]] == ["Cogs", "", "", "Extensions go with cogs."]
    assert infos[0].markup and infos[1].markup and not infos[3].markup
    assert infos[5].text == "Note: Inline words." and not infos[5].markup and infos[6].text == "More words."


def test_a_role_cut_by_a_line_break_reads_as_its_text_where_it_starts() -> None:
    lines = ["Crane", "=====", "", "First configure your cache; see the :doc:`cache",
             "documentation </topics/cache>` for details, and the :ref:`lifting",
             "guide <lifting>`.", "", "    :doc:`not a role in a literal block", "    </x>` stays as written"]
    lines[6] = "Literal::"
    infos = line_structure("guide.rst", lines)
    assert infos[3].text == "First configure your cache; see the cache documentation"
    assert infos[4].text == "for details, and the lifting guide."
    assert infos[5].text == ""  # only the end of the role and its full stop were on it
    assert infos[7].code_block is not None and infos[7].text is None and infos[8].text is None


def test_a_literal_cut_by_a_line_break_reads_as_literals_do() -> None:
    lines = ["Saving fails (``IntegrityError:", "FOREIGN KEY constraint failed``) for an old model; use ``pk``."]
    infos = line_structure("release.rst", lines)
    assert [i.text for i in infos] == ["Saving fails (`IntegrityError:",
                                       "FOREIGN KEY constraint failed`) for an old model; use `pk`."]


def test_a_capitalized_directive_or_role_is_the_directive_or_role() -> None:
    """docutils looks names up lower-cased: ``.. Important::`` is the admonition, not a line of prose."""
    lines = [".. Important::", "", "    Lift slowly.", "", "See :Ref:`the guide <guide>`."]
    infos = line_structure("guide.rst", lines)
    assert infos[0].markup and infos[0].text == "Important" and infos[2].text == "Lift slowly."
    assert infos[4].text == "See the guide."


def test_a_role_written_after_its_text_reads_as_its_text() -> None:
    """reST lets a role follow its text (Celery's user guide writes nine): "`worker <guide-workers>`:ref:" reads
    "worker" as ":ref:`worker <guide-workers>`" does, also when a line break cuts it."""
    lines = ["Tasks", "=====", "", "The `worker <guide-workers>`:ref: creates a `Request`:class: and calls",
             "`run`:meth:. Retries follow `autoretry_for", "<Task.autoretry_for>`:attr: and `PEP 8`_ stays a link.",
             "", ".. _PEP 8: https://peps.python.org/pep-0008/", "", ".. versionadded::4.2", "", "Words."]
    infos = line_structure("tasks.rst", lines)
    assert infos[3].text == "The worker creates a Request and calls"
    assert infos[4].text == "run(). Retries follow autoretry_for"
    assert infos[5].text == "and PEP 8 stays a link."
    # Without a space after "::" docutils reads no directive but a comment, which a built page never shows.
    assert infos[9].markup and infos[9].text == "" and infos[11].text is None and not infos[11].markup


def test_a_substitution_reads_as_its_replacement_text() -> None:
    """discord.py's changelog tags entries "|commands| Fix ..." with ".. |commands| replace:: [:ref:`ext.commands
    <discord_ext_commands>`]", which Sphinx shows as "[ext.commands]"; they were quoted as written. One the
    page does not define (Sphinx's own "|version|", or one from conf.py) stays, and so does one in a literal."""
    lines = [
        ".. |commands| replace:: [:ref:`ext.commands <discord_ext_commands>`]",  # 1
        ".. |tm| replace:: *TM*", "",                                            # 2
        "- |commands| Fix flag annotations (|tm|)",                              # 4
        "- Release |version|, see ``|commands|`` and |commands|_.", "",          # 5
        "::", "", "    print('|commands|')",                                     # 7-9
    ]
    text = [reader_text(line, info) for line, info in zip(lines, rst.rst_structure(lines))]
    assert text[0] == text[1] == ""
    assert text[3] == "- [ext.commands] Fix flag annotations (TM)"
    assert text[4] == "- Release |version|, see `|commands|` and [ext.commands]."
    assert text[8] == "    print('|commands|')"

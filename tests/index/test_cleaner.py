"""Which lines are content: page furniture goes, wrapped prose stays, repeated lines are embedded once."""

from __future__ import annotations

from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from citebot.index import Engine, Settings
from citebot.index.cleaner import MAX_OVERLAP, MIN_BLOCK, _label, _title_like, clean, find_boilerplate
from citebot.index.textproc import terms

from .helpers import write_files

ARTICLE = [
    "Harbour cranes return to the old port",  # 0: a headline
    "",
    "The city council voted on Tuesday to restore the two harbour cranes that stood idle",  # 2
    "for thirty years, and the restored cranes will lift cargo again by next spring.",
    "Engineers said the cranes were sound, although their cabins need new glass.",
    "",
    "The council expects the harbour to handle more cargo once the cranes are working.",  # 6
    "",
    "Related",  # 8: a label that belongs to the block below
    "Ten sourdough recipes for a rainy weekend",
    "Celebrity chef opens a vegan bistro in Lisbon",
    "- Why marathon runners swear by beetroot juice",
    "- Best budget headphones of the year, ranked",
    "Rated 4.5",  # 13
]


def test_block_of_unrelated_link_titles_at_the_page_end_is_dropped() -> None:
    assert find_boilerplate(ARTICLE) == [(8, 13)]
    cleaned = clean(ARTICLE)
    assert [k for k, keep in enumerate(cleaned.keep) if keep] == [0, 2, 3, 4, 6]


def test_nothing_is_dropped_when_boilerplate_removal_is_off() -> None:
    cleaned = clean(ARTICLE, drop_boilerplate=False)
    assert [k for k, keep in enumerate(cleaned.keep) if keep] == [k for k, line in enumerate(ARTICLE) if line]


def test_wrapped_prose_is_kept() -> None:
    prose = [
        "Harbour cranes",
        "The restored cranes will lift cargo again next spring after",
        "engineers replace the cabins, the cables and the",
        "old motors, which the council bought",
        "second hand from a shipyard in",
        "Rotterdam in nineteen sixty",
        "and never serviced.",
    ]
    assert find_boilerplate(prose) == []
    assert all(clean(prose).keep)


def test_a_list_that_belongs_to_the_document_is_kept() -> None:
    lines = [
        "Packing list for the harbour walk",
        "",
        "Bring these for the harbour walk along the cranes:",
        "- Waterproof harbour map",
        "- Crane spotting binoculars",
        "- Walking boots for the harbour",
        "- Thermos for the crane walk",
    ]
    assert find_boilerplate(lines) == []


def test_a_document_that_is_only_a_list_is_kept() -> None:
    lines = ["Apples", "Pears", "Plums", "Cherries", "Quinces"]
    assert find_boilerplate(lines) == []


def test_long_repeated_lines_are_marked_as_duplicates_short_ones_are_not() -> None:
    repeated = "Always switch the crane off at the main breaker before any repair."
    lines = [repeated, "}", "Other content about cranes in the harbour.", "}", "  " + repeated.upper() + "  ", repeated]
    cleaned = clean(lines, drop_boilerplate=False)
    assert cleaned.duplicate_of == {4: 0, 5: 0}  # case and surrounding white space do not matter
    assert cleaned.keep == [True, True, True, True, False, False]  # "}" is too short to count as a repeat


def test_repeated_line_is_embedded_once_and_cited_with_every_line_number(tmp_path: Path) -> None:
    warning = "Always switch the crane off at the main breaker before any repair."
    lines = [
        "# Crane manual", "", "## Cabin", "", "Clean the cabin glass every week with soapy water.", warning, "",
        "## Motor", "", "Grease the motor bearings each month with lithium grease.", warning, "",
        "## Cables", "", "Replace frayed cables at once; never splice them.", warning,
    ]
    docs = write_files(tmp_path / "docs", {"manual.md": "\n".join(lines) + "\n"})
    engine = Engine(Settings(db_path=tmp_path / "db", model="hash", _env_file=None))  # type: ignore[call-arg]
    engine.index(docs)
    stored = engine.store.get(engine.store.all_ids())
    assert sum(c.text.split("\n").count(warning) for c in stored) == 1
    answer = engine.ask("switch the crane off at the main breaker before repair", k=1)
    hit = answer.hits[0]
    assert (hit.line, hit.line_text) == (6, warning)
    assert hit.also_at == [11, 16]
    assert lines[hit.line - 1] == warning and all(lines[n - 1] == warning for n in hit.also_at)


def test_dropped_furniture_is_not_searchable(tmp_path: Path) -> None:
    docs = write_files(tmp_path / "docs", {"news.txt": "\n".join(ARTICLE) + "\n"})
    engine = Engine(Settings(db_path=tmp_path / "db", model="hash", _env_file=None))  # type: ignore[call-arg]
    engine.index(docs)
    cited = {n for hit in engine.ask("vegan bistro Lisbon celebrity chef").hits for n, _ in hit.lines}
    assert cited.isdisjoint(range(9, 15))
    stored = engine.store.get(engine.store.all_ids())
    assert stored and all("bistro" not in c.text for c in stored)
    kept = engine.ask("council restore harbour cranes cargo", k=1).hits[0]  # the article itself stays searchable
    assert kept.source == "news.txt" and 3 <= kept.line <= 7


def test_structure_lines_never_join_a_furniture_run() -> None:
    """A reST section title whose underline a reader never sees, above a short list, is a section, not a block
    of links: headings, code and markup lines passed as ``stops`` end a run (the indexer passes them)."""
    page = [
        "Version guarantees apply to the public API of the library and to nothing else in it at all.",
        "",
        "Examples of Breaking Changes",  # 2: a title (its underline is hidden, so it reads as blank)
        "",
        "- Changing the default parameter value to something else.",
        "- Renaming a function without an alias to an old function.",
        "- Adding or removing parameters to an event.",
        "- Upgrading the dependencies to a new version.",
    ]
    assert find_boilerplate(page) == [(2, 7)], "read as plain lines, the title and list look like furniture"
    stops = [k == 2 for k in range(len(page))]
    assert find_boilerplate(page, stops) == [(4, 7)], "the title is kept; the list is judged on its own"
    assert all(clean(page, True, [True] * len(page)).keep[k] for k, line in enumerate(page) if line)


def _boilerplate_by_definition(lines: list[str], stops: list[bool]) -> list[tuple[int, int]]:
    """The rule as first written: each run's terms against every term outside the run, recounted per run."""
    furniture = [not stop and bool(line.strip()) and (_title_like(line) or _label(line))
                 for line, stop in zip(lines, stops)]
    runs, i = [], 0
    while i < len(lines):
        if furniture[i]:
            j = i
            while j + 1 < len(lines) and not stops[j + 1] and (not lines[j + 1].strip() or furniture[j + 1]):
                j += 1
            runs.append((i, j))
            i = j + 1
        else:
            i += 1
    blocks = []
    for start, end in runs:
        body = [k for k in range(start, end + 1) if lines[k].strip() and not _label(lines[k])]
        if len(body) < MIN_BLOCK:
            continue
        block = {t for k in body for t in terms(lines[k])}
        rest = {t for k in range(len(lines)) if not start <= k <= end for t in terms(lines[k])}
        if block and rest and len(block & rest) / len(block) <= MAX_OVERLAP:
            blocks.append((start, end))
    return blocks


_LINES = st.sampled_from([
    "", "Related", "Rated 4.5", "- Budget headphones ranked", "- Sourdough recipes for the weekend",
    "Celebrity chef opens a bistro", "The cranes lift cargo again, the council said.",
    "the harbour handles more cargo once the cranes work", "Harbour cranes return", "- Cranes and cargo",
])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_LINES, st.booleans()), max_size=40))
@example([("- Budget headphones ranked", False), ("- Cranes and cargo", False)] * 2 + [("", False), ("Related", False)])
def test_boilerplate_matches_its_definition(doc: list[tuple[str, bool]]) -> None:
    lines, stops = [line for line, _ in doc], [stop for _, stop in doc]
    assert find_boilerplate(lines, stops) == _boilerplate_by_definition(lines, stops)

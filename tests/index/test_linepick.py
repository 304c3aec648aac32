"""The line picker: one pass over a candidate's lines gives the match that ranks it and the line it cites;
the reader, when there is one, may move the top hit's line, and a failing reader is switched off."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from citebot.index.keyword import KeywordIndex
from citebot.index.linepick import LINE_SEMANTIC_SHARE, LinePick, LinePicker
from citebot.index.linescore import CODE_SCORER_FILE, LineScorer, Query, line_coverage, prepare
from citebot.index.reader import ReaderConfig

LINES = [
    "The Kettleby footbridge over the river Aln was designed by the structural engineer",
    "Maria Okonkwo, and it opened to walkers and cyclists in the spring of 1987 after",
    "six years of arguments about its cost. The deck is made of Norwegian larch, which",
    "the town council chose because it weathers to silver without any paint at all.",
]
QUESTION = "Who designed the Kettleby footbridge?"


def _query(question: str = QUESTION, lines: Sequence[str] = LINES) -> Query:
    """The question over an index of ``lines`` and one other passage, so that word weights differ."""
    keyword = KeywordIndex.build(["a", "b"], ["\n".join(lines), "The river Aln floods in spring."])
    return Query.of(question, _unit(np.arange(1.0, 5.0)), keyword.term_idf)


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


VECTORS = np.stack([_unit(np.array(v, dtype=np.float64)) for v in ([1, 2, 3, 4], [4, 3, 2, 1], [0, 1, 0, 0],
                                                                  [1, 0, 0, 1])])


class FakeReader:
    """Stands in for the model: favours one line of the window it is shown, records what it read."""

    def __init__(self, favourite: str, window: int = 1, fail: Exception | None = None) -> None:
        self.favourite = favourite
        self.config = ReaderConfig(rank=1, alpha=1.0, window=window, blend=0.0, max_length=256)
        self.fail = fail
        self.read_calls: list[tuple[str, list[str]]] = []

    def load(self) -> ReaderConfig:
        if self.fail is not None:
            raise self.fail
        return self.config

    def read(self, question: str, lines: Sequence[str]) -> np.ndarray:
        self.read_calls.append((question, list(lines)))
        return np.log(np.array([0.9 if line == self.favourite else 0.1 / len(lines) for line in lines]))


def test_pick_is_the_scorers_best_line_and_match_blends_meaning_and_coverage() -> None:
    passage, query = prepare(LINES), _query()
    pick = LinePicker().pick(passage, VECTORS, query)
    assert pick.index == int(np.argmax(pick.logits))
    assert pick.score == pytest.approx(1 / (1 + np.exp(-pick.logits[pick.index])))
    lexical = line_coverage(passage, query)
    cosine = VECTORS @ query.vector
    share = LINE_SEMANTIC_SHARE
    assert pick.match == pytest.approx(float(np.max(share * cosine + (1 - share) * lexical)))
    assert np.array_equal(pick.logits, LineScorer.load().logits(LinePicker.features(passage, VECTORS, query)))


def test_without_line_vectors_coverage_stands_in_for_meaning() -> None:
    passage, query = prepare(LINES), _query()
    lexical = line_coverage(passage, query)
    for vectors in (None, VECTORS[:2]):  # none stored, or not one per line (a chunk from another version)
        pick = LinePicker().pick(passage, vectors, query)
        assert pick.match == pytest.approx(float(lexical.max()))
        features = LinePicker.features(passage, vectors, query)
        assert np.array_equal(features[:, 0], features[:, 4])  # "sem" is "lex" again


def test_without_a_reader_the_pick_stands() -> None:
    picker = LinePicker()
    pick = picker.pick(prepare(LINES), VECTORS, _query())
    assert picker.reread(prepare(LINES), pick, _query()) is pick


def test_the_reader_moves_the_pick_within_its_window() -> None:
    reader = FakeReader(favourite=LINES[1], window=1)
    picker = LinePicker(reader=reader)  # type: ignore[arg-type]
    passage, query = prepare(LINES), _query()
    pick = LinePick(np.array([3.0, 0.0, -1.0, -2.0], dtype=np.float32), 0.5, 0, 0.95)
    moved = picker.reread(passage, pick, query)
    assert reader.read_calls == [(QUESTION, LINES[0:2])]  # the pick and one line on either side that exists
    assert moved.index == 1
    assert (moved.match, moved.score) == (pick.match, pick.score)  # ranking was settled before the reader


def test_the_reader_never_looks_outside_its_window() -> None:
    reader = FakeReader(favourite=LINES[3], window=1)
    picker = LinePicker(reader=reader)  # type: ignore[arg-type]
    pick = LinePick(np.array([3.0, 0.0, -1.0, -2.0], dtype=np.float32), 0.5, 0, 0.95)
    assert picker.reread(prepare(LINES), pick, _query()).index in (0, 1)


def test_a_window_of_one_line_is_not_read() -> None:
    reader = FakeReader(favourite="", window=1)
    picker = LinePicker(reader=reader)  # type: ignore[arg-type]
    one = prepare([LINES[0]])
    pick = picker.pick(one, None, _query())
    assert picker.reread(one, pick, _query()) is pick
    assert reader.read_calls == []


def test_a_failing_reader_is_switched_off_once_and_the_pick_stands(caplog: pytest.LogCaptureFixture) -> None:
    reader = FakeReader(favourite=LINES[1], fail=RuntimeError("weights gone\nsecond line of detail"))
    picker = LinePicker(reader=reader)  # type: ignore[arg-type]
    passage, query = prepare(LINES), _query()
    pick = picker.pick(passage, VECTORS, query)
    with caplog.at_level("WARNING", logger="citebot.index.linepick"):
        assert picker.reread(passage, pick, query) is pick
    assert picker.reader is None
    assert "line reader off, the line scorer's picks stand: weights gone" in caplog.text
    assert "second line" not in caplog.text


def test_the_picker_scores_with_the_scorer_it_is_given() -> None:
    scorer = LineScorer.load()
    flipped = LineScorer(-scorer.weights, -scorer.bias)
    passage, query = prepare(LINES), _query()
    best = LinePicker(scorer).pick(passage, VECTORS, query)
    worst = LinePicker(flipped).pick(passage, VECTORS, query)
    assert np.allclose(worst.logits, -best.logits)
    assert worst.index == int(np.argmin(best.logits))
    assert worst.match == best.match  # the match does not depend on the scorer


# A made-up settings page: its second line names code, so the page is scored as documentation.
DOCS_LINES = [
    "The status bar is shown at the bottom of every screen by default.",
    "If you would rather hide it, set `SHOW_STATUS_BAR = False` on your app class.",
    "The bar shows the clock and the name of the current screen.",
]
DOCS_QUESTION = "how do I hide the status bar?"


def test_a_passage_that_names_code_is_scored_by_the_code_scorer() -> None:
    prose, code = LineScorer.load(), LineScorer.load(CODE_SCORER_FILE)
    picker = LinePicker(prose, code_scorer=code)
    docs, wiki = prepare(DOCS_LINES), prepare(LINES)
    assert docs.code.any() and not wiki.code.any()
    assert picker.scorer_for(docs) is code and picker.scorer_for(wiki) is prose
    pick = picker.pick(docs, None, _query(DOCS_QUESTION, DOCS_LINES))
    assert np.array_equal(pick.logits, code.logits(LinePicker.features(docs, None, _query(DOCS_QUESTION, DOCS_LINES))))


def test_the_reader_never_reads_a_window_that_names_code() -> None:
    reader = FakeReader(favourite=DOCS_LINES[2], window=1)
    picker = LinePicker(reader=reader)  # type: ignore[arg-type]
    docs = prepare(DOCS_LINES)
    pick = picker.pick(docs, None, _query(DOCS_QUESTION, DOCS_LINES))
    assert picker.reread(docs, pick, _query(DOCS_QUESTION, DOCS_LINES)) is pick
    assert reader.read_calls == []


def test_the_reader_reads_prose_around_the_pick_when_the_code_is_further_on() -> None:
    """A lead-in and its example are one passage (pydantic: "By default, Pydantic will *not* validate default
    values. ... to enable this behavior:" and the code under it): the prose window is still read."""
    lines = [*LINES, "", "", "", "    bridge = Bridge(deck='larch')"]
    reader = FakeReader(favourite=LINES[1], window=1)
    picker = LinePicker(reader=reader)  # type: ignore[arg-type]
    passage, query = prepare(lines), _query(QUESTION, lines)
    assert passage.code.any() and not passage.code[:4].any()
    pick = LinePick(np.zeros(len(lines), dtype=np.float32), 0.5, 0, 0.95)
    assert picker.reread(passage, pick, query).index == 1
    assert reader.read_calls == [(QUESTION, LINES[0:2])]
    late = LinePick(np.zeros(len(lines), dtype=np.float32), 0.5, len(lines) - 1, 0.95)
    assert picker.reread(passage, late, query) is late, "a window holding the code is never read"


def test_a_line_that_asks_a_question_is_never_the_answer() -> None:
    # An FAQ entry: its question restates the member's and shares all their words; the answer below it does not.
    lines = ["Can I fold the Kettleby footbridge deck for winter?",
             "No: the larch deck stays in place all year and weathers to silver.",
             "Can I cycle over the Kettleby footbridge at night?"]
    query = _query("can I fold the Kettleby footbridge deck for winter?", lines)
    passage = prepare(lines)
    assert passage.asks.tolist() == [True, False, True]
    pick = LinePicker().pick(passage, None, query)
    assert pick.index == 1
    assert pick.logits[0] < pick.logits[1] and pick.logits[2] < pick.logits[1]
    # A passage of questions only still cites one of them rather than nothing.
    assert LinePicker().pick(prepare([lines[0]]), None, query).index == 0

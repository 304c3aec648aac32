"""The line scorer: its features, its shipped weights (data keyed by feature name) and what it ranks first."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from citebot.index.errors import CitebotError
from citebot.index.keyword import KeywordIndex
from citebot.index.linepick import LinePicker
from citebot.index.linescore import (
    CODE_SCORER_FILE,
    FEATURES,
    SCORER_FILE,
    LineScorer,
    Query,
    line_coverage,
    line_features,
    prepare,
)

LINES = [
    "# The Kettleby footbridge",  # a heading
    "The footbridge over the river Aln was designed by the structural engineer",  # question words, runs on
    "Maria Okonkwo, and it opened to walkers and cyclists in the spring of 1987.",  # the name asked for
    "Short line.",
]
# Other passages, so that the keyword index knows which words are rare.
OTHERS = [
    "The river floods every spring and the walkers keep to the high path.",
    "Cyclists and walkers share the towpath along the river.",
    "The engineer inspected the old road bridge in the spring.",
]


def _query(question: str, lines: list[str] = LINES, vector: np.ndarray | None = None) -> Query:
    keyword = KeywordIndex.build([str(i) for i in range(len(lines) + len(OTHERS))], ["\n".join(lines), *OTHERS])
    return Query.of(question, np.zeros(4, dtype=np.float32) if vector is None else vector, keyword.term_idf)


def _column(features: np.ndarray, name: str) -> np.ndarray:
    return features[:, FEATURES.index(name)]


def test_features_are_one_row_per_line_in_features_order() -> None:
    passage = prepare(LINES)
    query = _query("Who designed the Kettleby footbridge?")
    lexical = line_coverage(passage, query)
    semantic = np.array([0.1, 0.9, 0.4, 0.0], dtype=np.float32)
    features = line_features(query, passage, lexical, semantic)
    assert features.shape == (len(LINES), len(FEATURES)) == (4, 23)
    assert features.dtype == np.float32
    assert len(set(FEATURES)) == len(FEATURES)
    assert np.array_equal(_column(features, "lex"), lexical)
    assert np.array_equal(_column(features, "sem"), semantic)
    assert np.allclose(_column(features, "sem_rel"), semantic - semantic.max())
    assert _column(features, "sem_prev")[2] == pytest.approx(0.9)  # line 1 runs on into line 2 (no full stop)
    assert _column(features, "sem_prev")[3] == 0.0  # line 2 ends its sentence at the line break
    assert _column(features, "heading").tolist() == [1, 0, 0, 0]
    assert _column(features, "has_number").tolist() == [0, 0, 1, 0]
    assert _column(features, "short").tolist() == [1, 0, 0, 1]
    assert _column(features, "who_cap")[2] > 0  # a who-question, and a new name on the line
    assert _column(features, "when_date").tolist() == [0, 0, 0, 0]  # not a when-question
    assert lexical[1] > lexical[2]  # the question's words are on line 1


def test_query_weighs_each_distinct_term_once() -> None:
    query = _query("Who designed the footbridge, the Kettleby footbridge?")
    assert sorted(query.idf) == sorted({"design", "footbridg", "kettlebi"})
    assert query.total == pytest.approx(sum(query.idf.values()))
    assert query.kind["who"] and not query.kind["when"]


@pytest.mark.parametrize(
    ("question", "lines"),
    [
        ("Who designed the Kettleby footbridge?", [
            "The Kettleby footbridge was designed to carry walkers and cyclists.",  # the rare words, no name
            "The Kettleby footbridge was designed by Maria Okonkwo.",  # the rare words and a name
            "Peter Holm chaired the committee of the river for many years.",  # a name, no question word
            "Walkers cross free.",
        ]),
        ("When did the Kettleby footbridge open?", [
            "The Kettleby footbridge opened to walkers and cyclists.",
            "The Kettleby footbridge opened in 1987.",  # the rare words and a year
            "The ferry over the river opened in 1952.",  # a year, no rare question word
        ]),
        ("How many walkers cross the Kettleby footbridge?", [
            "Walkers cross the Kettleby footbridge on the way to the river.",
            "About 400 walkers cross the Kettleby footbridge each day.",  # the rare words and a number
            "About 900 cyclists ride along the river each day.",
        ]),
    ],
)
def test_the_line_with_the_rare_words_and_the_asked_for_type_ranks_first(question: str, lines: list[str]) -> None:
    pick = LinePicker().pick(prepare(lines), None, _query(question, lines))
    assert pick.index == 1, pick.logits


def test_rare_question_words_beat_common_ones() -> None:
    lines = [
        "Walkers and cyclists cross the river by the spring path.",  # common words of the corpus
        "The Kettleby footbridge carries walkers over the river.",  # the rare ones
        "Bring a coat.",
    ]
    pick = LinePicker().pick(prepare(lines), None, _query("Which walkers cross the Kettleby footbridge?", lines))
    assert pick.index == 1, pick.logits


@pytest.mark.parametrize(("path", "held_out"), [(SCORER_FILE, "held_out_line_accuracy"),
                                                (CODE_SCORER_FILE, "held_out_docs")])
def test_the_shipped_weights_name_every_feature_and_say_where_they_came_from(path: Path, held_out: str) -> None:
    scorer = LineScorer.load(path)
    data = json.loads(path.read_text())
    assert list(data["features"]) == list(FEATURES)
    assert scorer.weights.shape == (len(FEATURES),)
    assert scorer.weights[FEATURES.index("sem_rel")] == pytest.approx(data["features"]["sem_rel"])
    assert scorer.bias == data["bias"]
    for key in ("fitted_by", "data", held_out, "commit"):
        assert key in scorer.provenance
    assert LineScorer.from_json(scorer.to_json()).to_json() == scorer.to_json()


@pytest.mark.parametrize(("line", "names_code"), [
    ("Set `SHOW_STATUS_BAR = False` on the app.", True),  # inline code
    ("Pass max_retries to the client.", True),  # a snake_case name
    ("Call enable_log() once at start-up.", True),
    ("Call run() to start the app.", True),  # a call
    ("timeout = 30", True),  # an assignment
    ("    client.run()", True),  # an indented code line
    ("The U.S. branch of McDonald's opened a YouTube channel in 2005.", False),  # prose that only looks odd
    ("The engineer (born 1950) designed the bridge.", False),
])
def test_a_line_names_code_by_its_shape(line: str, names_code: bool) -> None:
    assert bool(prepare([line]).code[0]) is names_code


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "scorer.json"
    path.write_text(json.dumps(data))
    return path


def test_a_weight_file_missing_a_feature_is_refused_naming_it(tmp_path: Path) -> None:
    data = json.loads(SCORER_FILE.read_text())
    del data["features"]["prox_typed"]
    with pytest.raises(CitebotError, match=r"no weight for feature\(s\) prox_typed:"):
        LineScorer.load(_write(tmp_path, data))


def test_a_weight_file_with_an_unknown_feature_is_refused_naming_it(tmp_path: Path) -> None:
    data = json.loads(SCORER_FILE.read_text())
    data["features"]["colour"] = 0.5
    with pytest.raises(CitebotError, match=r"unknown feature\(s\) colour"):
        LineScorer.load(_write(tmp_path, data))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["features"].update(lex="heavy"), "the weight of lex is not a finite number"),
        (lambda d: d.update(bias=None), "the weight of bias is not a finite number"),
        (lambda d: d.pop("features"), 'expected an object with a "features" object'),
    ],
)
def test_a_malformed_weight_file_is_one_clear_error(tmp_path: Path, change, message: str) -> None:  # noqa: ANN001
    data = json.loads(SCORER_FILE.read_text())
    change(data)
    with pytest.raises(CitebotError, match=message):
        LineScorer.load(_write(tmp_path, data))


def test_an_unreadable_or_missing_weight_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "scorer.json"
    bad.write_text("{not json")
    with pytest.raises(CitebotError, match="cannot read the line scorer's weights"):
        LineScorer.load(bad)
    with pytest.raises(CitebotError, match="the line scorer's weights are missing"):
        LineScorer.load(tmp_path / "none.json")


def test_weights_are_applied_by_name_not_by_position(tmp_path: Path) -> None:
    data = json.loads(SCORER_FILE.read_text())
    data["features"] = {name: (1.0 if name == "heading" else 0.0) for name in reversed(FEATURES)}
    data["bias"] = 0.0
    scorer = LineScorer.load(_write(tmp_path, data))
    pick = LinePicker(scorer).pick(prepare(LINES), None, _query("Who designed the Kettleby footbridge?"))
    assert pick.index == 0  # only the heading feature counts
    assert pick.logits.tolist() == [1.0, 0.0, 0.0, 0.0]

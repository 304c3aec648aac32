"""The line reader: its pure parts with made-up numbers, and the shipped adapters on text of our own."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from citebot.index import Engine, Settings
from citebot.index.embedder import BUNDLED_MODEL, bundled_model_path
from citebot.index.errors import CitebotError
from citebot.index.reader import (
    MODULES,
    WEIGHTS_FILE,
    LineReader,
    blend,
    check_fits,
    line_log_probs,
    make_reader,
    read_weights,
    token_lines,
    window,
)

from .helpers import write_files

# Wrapped prose where the question's words sit on one line and the answer on the next.
BRIDGE = [
    "The Kettleby footbridge over the river Aln was designed by the structural engineer",
    "Maria Okonkwo, and it opened to walkers and cyclists in the spring of 1987 after",
    "six years of arguments about its cost. The deck is made of Norwegian larch, which",
    "the town council chose because it weathers to silver without any paint at all.",
]


def test_window_is_clipped_to_the_passage() -> None:
    assert window(0, [80] * 10, 3) == (0, 4)
    assert window(5, [80] * 10, 3) == (2, 9)
    assert window(9, [80] * 10, 3) == (6, 10)
    assert window(0, [80], 3) == (0, 1)


def test_window_keeps_to_its_budget_nearest_lines_first() -> None:
    assert window(2, [400, 400, 400, 400, 400], 2, budget=1000) == (1, 3)  # the pick and one neighbour
    assert window(2, [10, 10, 900, 10, 10], 2, budget=1000) == (0, 5)
    assert window(1, [950, 950, 950], 1, budget=1000) == (1, 2)  # only the pick: nothing to re-read


def test_blend_lets_a_confident_reader_overrule_a_close_scorer() -> None:
    reader = np.log(np.array([0.1, 0.8, 0.1]))
    assert blend(reader, np.array([2.0, 1.5, 0.0]), 0.25) == 1
    assert blend(reader, np.array([9.0, 0.0, 0.0]), 0.25) == 0  # but not a scorer that is sure


def test_tokens_map_to_their_lines_and_question_tokens_to_none() -> None:
    lines = ["ab cd", "ef"]
    # [CLS] q [SEP] ab cd ef [SEP]: offsets of passage tokens are into "ab cd\nef"
    sequence_ids = [None, 0, None, 1, 1, 1, None]
    offsets = np.array([[0, 0], [0, 1], [0, 0], [0, 2], [3, 5], [6, 8], [0, 0]])
    assert token_lines(sequence_ids, offsets, lines).tolist() == [-1, -1, -1, 0, 0, 1, -1]


def test_line_log_probs_pool_tokens_and_sum_to_one() -> None:
    logits = np.array([0.0, 0.0, 5.0, 1.0, 1.0])
    line_of = np.array([-1, 0, 0, 1, 1])
    lp = line_log_probs(logits, line_of, 3)  # line 2 has no token: truncated away
    assert np.isclose(np.exp(lp).sum(), 1.0)
    assert lp[0] > lp[1] > lp[2]
    assert np.exp(lp[2]) < 1e-9


def test_reader_applies_only_to_the_bundled_model_when_enabled(tmp_path: Path) -> None:
    on = Settings(db_path=tmp_path / "db", _env_file=None)  # type: ignore[call-arg]
    off = Settings(db_path=tmp_path / "db", line_reader=False, _env_file=None)  # type: ignore[call-arg]
    assert WEIGHTS_FILE.exists(), "the trained adapters must ship with the package"
    assert isinstance(make_reader(on, BUNDLED_MODEL), LineReader)
    assert make_reader(on, "hash-256") is None
    assert make_reader(on, "sentence-transformers/all-mpnet-base-v2") is None
    assert make_reader(off, BUNDLED_MODEL) is None


@pytest.fixture(scope="module")
def reader() -> LineReader:
    r = LineReader(bundled_model_path())
    r.load()
    return r


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "line"),
    [
        ("Who designed the Kettleby footbridge?", 1),
        ("What wood is the deck of the Kettleby footbridge made of?", 2),
        ("How long did the arguments about the footbridge's cost last?", 2),
        ("What colour does the larch weather to?", 3),
    ],
)
def test_reader_points_at_the_line_holding_the_answer(reader: LineReader, question: str, line: int) -> None:
    lp = reader.read(question, BRIDGE)
    assert lp.shape == (len(BRIDGE),)
    assert int(np.argmax(lp)) == line, np.exp(lp).round(3)


@pytest.mark.slow
def test_reader_survives_a_window_longer_than_the_model_reads(reader: LineReader) -> None:
    lines = BRIDGE * 20  # far past 256 tokens: the tail is truncated, not an error
    lp = reader.read("Who designed the footbridge?", lines)
    assert lp.shape == (len(lines),)
    assert np.isfinite(lp).all()
    assert int(np.argmax(lp)) % len(BRIDGE) == 1  # a copy of the line naming the engineer
    assert np.exp(lp[-1]) < 1e-6  # lines past the model's window were never read


@pytest.mark.slow
def test_ask_cites_the_answer_line_not_the_line_with_the_question_words(tmp_path: Path) -> None:
    docs = write_files(tmp_path / "docs", {"bridge.md": "# Bridges of the Aln\n\n" + "\n".join(BRIDGE) + "\n"})
    with_reader = Engine(Settings(db_path=tmp_path / "db", docs_dir=docs, _env_file=None))  # type: ignore[call-arg]
    with_reader.index()
    answer = with_reader.ask("Who designed the Kettleby footbridge?")
    assert answer.hits and answer.hits[0].source == "bridge.md"
    assert answer.hits[0].line == 4, answer.hits[0].line_text
    assert "Okonkwo" in answer.hits[0].line_text


def test_a_reader_that_cannot_load_leaves_the_scorer_answering(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    docs = write_files(tmp_path / "docs", {"bridge.md": "\n".join(BRIDGE) + "\n"})
    engine = Engine(Settings(db_path=tmp_path / "db", docs_dir=docs, model="hash", _env_file=None))  # type: ignore[call-arg]
    engine.index()
    engine.searcher.picker.reader = LineReader("no-such-model", weights=tmp_path / "missing.npz")
    with caplog.at_level("WARNING", logger="citebot.index.linepick"):
        first = engine.ask("Who designed the Kettleby footbridge?")
    assert first.hits and first.hits[0].source == "bridge.md"
    assert "line reader off" in caplog.text
    assert engine.searcher.reader is None  # tried once, not on every question
    assert engine.ask("What is the deck of the Kettleby footbridge made of?").hits


def _shipped() -> dict[str, np.ndarray]:
    with np.load(WEIGHTS_FILE) as npz:
        return {key: npz[key] for key in npz.files}


def _save(tmp_path: Path, arrays: dict[str, np.ndarray]) -> Path:
    path = tmp_path / "reader.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def _model(layers: int = 6, hidden: int = 384, inner: int = 1536) -> SimpleNamespace:
    """The shape of all-MiniLM-L6-v2, as much of it as the check reads."""
    sizes = {"attention.self.query": (hidden, hidden), "attention.self.value": (hidden, hidden),
             "intermediate.dense": (hidden, inner), "output.dense": (inner, hidden)}

    def layer() -> SimpleNamespace:
        subs = {name: SimpleNamespace(in_features=i, out_features=o) for name, (i, o) in sizes.items()}
        return SimpleNamespace(get_submodule=subs.__getitem__)

    return SimpleNamespace(encoder=SimpleNamespace(layer=[layer() for _ in range(layers)]),
                           config=SimpleNamespace(hidden_size=hidden))


def test_the_shipped_weights_hold_what_the_reader_expects() -> None:
    saved, config = read_weights(WEIGHTS_FILE)
    assert (config.window, config.blend, config.max_length) == (3, 0.125, 256)
    check_fits(saved, config, _model(), WEIGHTS_FILE)
    assert len(saved) == 6 * len(MODULES) * 2 + 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("head.bias"), "is not a line reader's weights: no head.bias"),
        (lambda a: a.update(config=np.array("{")), "its config is not JSON"),
        (lambda a: a.update(config=np.array(json.dumps({"rank": 16, "alpha": 32.0, "window": 3, "blend": 0.1}))),
         "its config must hold exactly alpha, blend, max_length, rank, window"),
        (lambda a: a.update(config=np.array(json.dumps(
            {"rank": 16, "alpha": 32.0, "window": 3, "blend": 0.1, "max_length": 256, "dropout": 0.1}))),
         "its config must hold exactly"),
        (lambda a: a.update(config=np.array(json.dumps(
            {"rank": 0, "alpha": 32.0, "window": 3, "blend": 0.1, "max_length": 256}))),
         "must be positive"),
    ],
)
def test_a_reader_file_without_the_expected_config_is_refused(tmp_path: Path, change, message: str) -> None:  # noqa: ANN001
    arrays = _shipped()
    change(arrays)
    with pytest.raises(CitebotError, match=message):
        read_weights(_save(tmp_path, arrays))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("5.output.dense.B"), "no adapter 5.output.dense.B: it was not trained for this model"),
        (lambda a: a.update({"0.intermediate.dense.A": np.zeros((16, 10), dtype=np.float16)}),
         r"adapter 0.intermediate.dense.A is \(16, 10\), the model needs \(16, 384\)"),
        (lambda a: a.update({"6.output.dense.A": np.zeros((16, 1536), dtype=np.float16)}),
         "unknown arrays 6.output.dense.A: it was trained for another model"),
        (lambda a: a.update({"head.weight": np.zeros(768, dtype=np.float32)}), r"the head is \(768,\)"),
    ],
)
def test_a_reader_file_that_does_not_fit_the_model_is_refused(tmp_path: Path, change, message: str) -> None:  # noqa: ANN001
    arrays = _shipped()
    change(arrays)
    path = _save(tmp_path, arrays)
    saved, config = read_weights(path)
    with pytest.raises(CitebotError, match=message):
        check_fits(saved, config, _model(), path)


def test_a_missing_or_broken_reader_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CitebotError, match="the line reader's weights are missing"):
        read_weights(tmp_path / "none.npz")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(WEIGHTS_FILE.read_bytes()[:5000])  # cut short
    with pytest.raises(CitebotError, match="cannot read the line reader's weights"):
        read_weights(broken)
    text = tmp_path / "text.npz"
    text.write_text("not weights")
    with pytest.raises(CitebotError, match="cannot read the line reader's weights"):
        read_weights(text)

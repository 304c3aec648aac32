"""Question sampling, option checks, scale extrapolation and a citebot pass on a tiny corpus of our own.

Uses the hash embedder, so no model and no ``../shared`` are needed; LangChain is never imported.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench import cli, data, scale, scoring
from bench.citebot_run import RecordingEmbedder, run
from bench.measure import Timing, best_of
from bench.results import ScalePoint
from citebot.index import HashEmbedder


def test_dedupe_keeps_first_position_and_last_gold_like_score_py() -> None:
    rows: list[dict[str, Any]] = [
        {"question": "a", "gold": [1]}, {"question": "b", "gold": []}, {"question": "a", "gold": [2]},
    ]
    assert data.dedupe(rows) == [{"question": "a", "gold": [2]}, {"question": "b", "gold": []}]


def test_sample_is_fixed_ordered_and_zero_means_all() -> None:
    rows = [{"question": str(i), "gold": []} for i in range(100)]
    first, second = data.sample(rows, 10), data.sample(rows, 10)
    assert first == second and len(first) == 10
    assert [int(r["question"]) for r in first] == sorted(int(r["question"]) for r in first)
    assert data.sample(rows, 0) == rows and data.sample(rows, 500) == rows


def test_parse_sizes_accepts_suffixes_and_rounds_to_blocks() -> None:
    assert cli.parse_sizes("10000,100k,1M") == [10_000, 100_000, 1_000_000]
    assert cli.parse_sizes("1500") == [2000]
    assert cli.parse_sizes("none") == []
    with pytest.raises(cli.BenchError):
        cli.parse_sizes("ten")


def test_missing_shared_data_is_one_line_and_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--shared", str(tmp_path / "nowhere"), "--skip-langchain", "--scale", "none"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "--shared" in err


def test_nice_below_and_extrapolation_never_shrink() -> None:
    assert scale.nice_below(450_000) == 300_000
    assert scale.nice_below(999) == 0
    measured = [
        ScalePoint(size=10_000, chroma={"query_p50_ms": 5.0, "query_p95_ms": 9.0, "get_p50_ms": 2.0,
                                        "get_p95_ms": 3.0, "rss_open_mib": 150.0, "peak_rss_mib": 160.0}),
        ScalePoint(size=100_000, chroma={"query_p50_ms": 4.0, "query_p95_ms": 12.0, "get_p50_ms": 2.5,
                                         "get_p95_ms": 3.5, "rss_open_mib": 400.0, "peak_rss_mib": 420.0}),
    ]
    point = scale.extrapolate(measured, 1_000_000, 100_000, 200.0, 500.0)
    assert point.extrapolated and "not reached" in point.note
    assert point.insert_s == pytest.approx(200.0 + 900_000 / 500.0)
    assert point.chroma["query_p50_ms"] == 4.0  # the fit falls; clamped to the last measured value
    assert point.chroma["query_p95_ms"] == pytest.approx(12.0 * 10 ** (math.log10(12.0 / 9.0)))  # same power law
    assert point.chroma["rss_open_mib"] > 2000


def _corpus(root: Path) -> Path:
    docs = root / "docs"
    docs.mkdir()
    (docs / "animals.md").write_text(
        "# Animals\n\nThe cheetah is the fastest land animal.\nIt hunts antelope on the savanna.\n\n"
        "The blue whale is the largest animal ever known.\n"
    )
    (docs / "space.md").write_text("# Space\n\nJupiter is the largest planet in the solar system.\n")
    return docs


def test_citebot_pass_on_a_tiny_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEBOT_MODEL", "hash")
    questions = [
        {"question": "Which is the fastest land animal?", "gold": [{"source": "animals.md", "line": 3}]},
        {"question": "What is the largest planet?", "gold": [{"source": "space.md", "line": 3}]},
    ]
    ds = data.Dataset("tiny", _corpus(tmp_path), questions)
    seen: list[list[str]] = []

    def encode(texts: object) -> Timing:
        seen.append(list(texts))  # type: ignore[call-overload]
        return Timing(0.5, 0.8)

    out = run(ds, HashEmbedder(), tmp_path / "work", 10, encode, repeat=2, latency_passes=2)
    keys = [r.key for r in out.results]
    assert keys == ["citebot-default", "citebot-hybrid", "citebot-dense", "citebot-keyword"]
    assert len(seen) == 2 and seen[0] == seen[1] == out.texts and out.texts
    assert any("cheetah" in t for t in out.texts)
    for r in out.results:
        assert r.metrics["answerable"] == 2 and r.encode_only_s == 0.5 and len(r.index_runs) == 2
        assert r.encode_only_cpu_s == 0.8 and r.index_cpu_s is not None
        assert r.p50_best_ms is not None and r.p50_ms is not None and r.p50_best_ms <= r.p50_ms
        assert r.p50_ms is not None and r.reindex_s is not None and r.chunks >= 2
    assert all(len(ms) == 2 for ms in out.timings["citebot-default"].values())
    assert set(out.timings["citebot-default"]) == {q["question"] for q in questions}
    hybrid = out.hits["citebot-hybrid"]
    assert hybrid["What is the largest planet?"][0]["source"] == "space.md"
    assert out.results[1].metrics["hit@1"] == 1.0


def test_best_of_takes_each_questions_fastest_pass() -> None:
    assert best_of([[3.0, 1.0, 5.0], [2.0, 4.0, 5.0]]) == [2.0, 1.0, 5.0]
    assert best_of([]) == []


def test_recording_embedder_keeps_texts_and_name() -> None:
    inner = HashEmbedder()
    rec = RecordingEmbedder(inner)
    rec.embed_passages(["one line", "two\nlines"], [[(0, 8)], [(0, 3), (4, 9)]])
    assert rec.texts == ["one line", "two\nlines"] and rec.name == inner.name and rec.seconds > 0


def test_scores_match_the_shared_scorer_when_it_is_present(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[3] / "shared" / "eval" / "score.py"
    if not script.exists():
        pytest.skip("../shared/eval/score.py not present")
    copy = tmp_path / "score.py"
    shutil.copyfile(script, copy)
    questions: list[dict[str, Any]] = [
        {"question": "q1", "gold": [{"source": "a.md", "line": 3}]},
        {"question": "q2", "gold": [{"source": "b.md", "line": 9}]},
        {"question": "q3", "gold": []},
    ]
    hits = {
        "q1": [{"source": "a.md", "line_start": 1, "line_end": 4, "line": 3}],
        "q2": [{"source": "a.md", "line_start": 1, "line_end": 4}, {"source": "b.md", "line_start": 9, "line_end": 9}],
        "q3": [],
    }
    ours, dropped = scoring.evaluate(questions, hits)
    gold, found = scoring.save(tmp_path, "t", questions, hits, {"q1": [12.5, 11.0]})
    assert json.loads(found.read_text().splitlines()[0])["ms"] == [12.5, 11.0]
    reference = scoring.reference_score(copy, gold, found)
    assert ours.pop("lines@1") == 4.0  # both top hits span lines 1-4; the shared scorer has no such column
    assert reference is not None and json.dumps(reference, sort_keys=True) == json.dumps(ours, sort_keys=True)
    assert scoring.agrees(ours, reference) is True and dropped == 0


@pytest.mark.slow
def test_citebots_encode_only_floor_runs_the_model_on_citebots_runtime() -> None:
    """The indexing-overhead target compares citebot's build with the model alone on the same runtime."""
    from bench import encode_only
    from citebot.index.embedder import bundled_model_path

    texts = ["a short text", " ".join(["a much longer text"] * 50), "mid length text here"]
    floor = encode_only.citebot_floor(bundled_model_path(), "cpu", 2, onnx=True)
    assert isinstance(floor, encode_only.OnnxBaseline) and floor.runtime == "onnxruntime"
    assert floor(texts).wall > 0
    torch_floor = encode_only.citebot_floor(bundled_model_path(), "cpu", 2, onnx=False)
    assert isinstance(torch_floor, encode_only.Baseline)
    assert encode_only.citebot_floor(bundled_model_path(), "cpu", 2, onnx=False, torch_floor=torch_floor) is torch_floor

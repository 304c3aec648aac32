"""Rendering of results: Markdown tables, targets with margins, JSON round trip (no shared data needed)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report import DASH, caution_line, fmt, render, table, targets, write
from bench.results import Run, ScalePoint, SystemResult


def _result(corpus: str, key: str, **kw: object) -> SystemResult:
    metrics = {"answerable": 10, "hit@1": 0.8, "hit@5": 0.9, "mrr@10": 0.85, "precise@1": 0.6,
               "unanswerable": 0, "abstain": None}
    metrics.update(kw.pop("metrics", {}))  # type: ignore[call-overload]
    base = {"corpus": corpus, "system": f"{key} system", "key": key, "k": 5, "metrics": metrics}
    base.update(kw)
    return SystemResult(**base)  # type: ignore[arg-type]


def _run() -> Run:
    squad = _result("squad", "citebot-default", index_s=11.5, encode_only_s=10.0, reindex_s=0.4, p50_ms=35.0,
                    p95_ms=90.0, peak_rss_mib=900.0, added_rss_mib=300.0, dropped=1, chunks=123, index_cpu_s=30.0,
                    encode_only_cpu_s=20.0, latency_passes=2, p50_best_ms=30.0, p95_best_ms=70.0)
    news = _result("news", "citebot-default", metrics={"hit@1": 0.95, "precise@1": 0.7, "unanswerable": 3,
                                                       "abstain": 0.667})
    lc = _result("squad", "langchain", metrics={"precise@1": 0.0}, index_s=5.0, encode_only_s=5.0)
    return Run(command="make bench", started="2024-01-01 00:00:00 UTC", machine={"cpu": "test cpu"},
               settings={"top_k": "5"}, datasets={"squad": "10 questions"}, systems=[squad, news, lc],
               scale=[ScalePoint(size=10_000, insert_s=8.0, chroma={"query_p50_ms": 4.0, "query_p95_ms": 6.0}),
                      ScalePoint(size=1_000_000, extrapolated=True, note="guessed")])


def test_the_caution_line_counts_cautious_plain_and_withheld_answers() -> None:
    metrics = {"answerable": 48, "unanswerable": 12, "abstain": 0.167, "cautioned_unanswerable": 0.667,
               "cautioned_answerable": 0.167}
    docs = _result("textual", "citebot-default", metrics=metrics)
    line = caution_line([docs, _result("textual", "langchain")])
    assert line is not None
    assert "8 of the 12 unanswerable questions an answer with the caution" in line and "2 a plain answer" in line
    assert "8 of the 48 answerable questions the caution" in line
    assert caution_line([_result("squad", "citebot-default")]) is None, "a run that did not count cautions"
    squad = _result("squad", "citebot-default", metrics={"cautioned_unanswerable": None, "cautioned_answerable": 0.1})
    assert caution_line([squad]) == "citebot defaults gave 1 of the 10 answerable questions the caution that the " \
        "documents may not answer."
    assert line in render(Run(command="x", started="s", machine={}, settings={}, datasets={}, systems=[docs]))


def test_fmt_shows_missing_values_as_a_dash() -> None:
    assert fmt(None) == DASH
    assert fmt(float("nan")) == DASH
    assert fmt(0.12345) == "0.123"
    assert fmt(1234567) == "1,234,567"
    assert fmt(12.0, 1, " ms") == "12.0 ms"


def test_table_aligns_numbers_right_and_escapes_pipes() -> None:
    text = table(("name", "value"), [["a|b", "1"]])
    assert text.splitlines() == ["| name | value |", "| --- | ---: |", "| a\\|b | 1 |"]


def test_targets_report_met_missed_and_signed_margin() -> None:
    found = {(t.corpus, t.name): t for t in targets(_run().systems)}
    assert found[("squad", "hit@1")].met is False and found[("squad", "hit@1")].gap == "-0.020"
    assert found[("squad", "precise@1")].met is True and found[("squad", "precise@1")].gap == "+0.000"
    assert found[("squad", "hit@5")].met is False and found[("squad", "hit@5")].gap == "-0.050"
    assert found[("squad", "warm ask p50")].met is True
    assert found[("squad", "warm ask p95")].met is False and found[("squad", "warm ask p95")].gap == "-10.0 ms"
    assert found[("squad", "warm ask p95, best of 2")].met is True
    assert found[("squad", "index overhead over encode-only (wall)")].gap == "+0 %"  # 15 % exactly meets it
    assert found[("squad", "index overhead over encode-only (CPU time)")].gap == "-35 %"
    assert found[("squad", "unchanged re-index")].met is True
    assert found[("news", "abstain")].met is False  # 0.667 < 0.67
    assert found[("news", "precise@1")].met is False


def test_render_has_the_command_tables_and_extrapolation_flag() -> None:
    text = render(_run(), "benchmarks.png")
    assert "```sh\nmake bench\n```" in text
    assert "| citebot-default system | 0.800 | 0.900 | 0.850 | 0.600 | — | 0.100 | — | 35.0 | 90.0 |" in text
    assert "| citebot-default system | 123 | 11.5 | 10.0 | 15 % | 50 % | 0.40 | 35.0 / 90.0 | 30.0 / 70.0 |" in text
    assert "1,000,000 (extrapolated)" in text
    assert "![quality against latency](benchmarks.png)" in text
    assert "**missed**" in text


def test_write_produces_json_that_round_trips(tmp_path: Path) -> None:
    run = _run()
    out = tmp_path / "bench.md"
    write(run, out)
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["systems"][0]["overhead"] == 11.5 / 10.0 - 1
    again = Run.from_json(data)
    assert again.systems[0] == run.systems[0]
    assert again.scale[1].extrapolated
    assert out.read_text().startswith("# citebot benchmarks")

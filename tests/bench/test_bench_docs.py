"""The documentation corpora of issue 10: datasets with styles, per-style scores, docs targets, plain BM25.

No model is loaded; ``../shared`` is used only where a test says so (and skipped without it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import bm25_run, cli, data, report, scoring
from bench.results import Run, SystemResult

SHARED = Path(__file__).resolve().parents[3] / "shared"


def _fake_shared(root: Path) -> Path:
    """A ``shared`` folder holding a tiny pydantic docs corpus and its questions, in the real layout."""
    docs = root / "corpus" / "pydantic-docs" / "docs"
    (docs / "concepts").mkdir(parents=True)
    (docs / "concepts" / "models.md").write_text("# Models\n\nExtra keys are ignored by default.\n")
    (docs / "migration.md").write_text("# Migration\n\nUse model_dump instead of dict.\n")
    (docs / "other.md").write_text("# Other\n\nNothing of interest.\n")
    rows = [
        {"question": "extra keys?", "gold": [{"source": "concepts/models.md", "line": 3}], "style": "lexical"},
        {"question": "replacement for dict()", "gold": [{"source": "migration.md", "line": 3}], "style": "code"},
        {"question": "how do I fly?", "gold": [], "style": "unanswerable"},
    ]
    (root / "eval").mkdir()
    (root / "eval" / "docs_dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_docs_dataset_loads_the_docs_folder_with_styles(tmp_path: Path) -> None:
    ds = data.docs(_fake_shared(tmp_path), "pydantic")
    assert ds.corpus == tmp_path / "corpus" / "pydantic-docs" / "docs"
    assert [q["style"] for q in ds.questions] == ["lexical", "code", "unanswerable"]
    assert ds.answerable == 2 and "lexical 1, code 1, unanswerable 1" in ds.note


def test_quick_keeps_the_most_cited_files_and_matches_gold_in_subfolders(tmp_path: Path) -> None:
    ds = data.docs(_fake_shared(tmp_path), "pydantic")
    small = data.shrink(ds, 1, 30, tmp_path / "work", pick="cited")
    assert [p.relative_to(small.corpus).as_posix() for p in data.corpus_files(small.corpus)] == ["concepts/models.md"]
    assert [q["question"] for q in small.questions] == ["extra keys?", "how do I fly?"]


@pytest.mark.skipif(not (SHARED / "eval" / "docs_dev.jsonl").exists(), reason="../shared not present")
@pytest.mark.parametrize(("name", "count"), [("pydantic", 40), ("discordpy", 60), ("textual", 60)])
def test_the_shared_docs_dev_sets_load_with_their_styles(name: str, count: int) -> None:
    ds = data.docs(SHARED, name)
    assert len(ds.questions) == count and data.corpus_files(ds.corpus)
    assert {q["style"] for q in ds.questions} == set(data.STYLES)
    assert all((q["style"] == "unanswerable") == (not q["gold"]) for q in ds.questions)


def test_corpus_option_knows_every_corpus_and_refuses_others(tmp_path: Path) -> None:
    assert cli.parse_args([]).corpus == "squad,news,pydantic,discordpy,textual"
    with pytest.raises(cli.BenchError, match="choose from squad, news, pydantic, discordpy, textual"):
        cli.validate(cli.parse_args(["--corpus", "django", "--skip-langchain"]))
    shared = str(_fake_shared(tmp_path))
    args = cli.parse_args(["--corpus", "pydantic,pydantic", "--skip-langchain", "--shared", shared])
    assert cli.validate(args) == ["pydantic"]


QUESTIONS: list[dict[str, Any]] = [
    {"question": "l1", "gold": [{"source": "a.md", "line": 3}], "style": "lexical"},
    {"question": "l2", "gold": [{"source": "a.md", "line": 9}], "style": "lexical"},
    {"question": "p1", "gold": [{"source": "dir/b.md", "line": 5}], "style": "paraphrase"},
    {"question": "u1", "gold": [], "style": "unanswerable"},
    {"question": "u2", "gold": [], "style": "unanswerable"},
]
HITS: scoring.Hits = {
    "l1": [{"source": "a.md", "line_start": 1, "line_end": 4, "line": 3}],  # hit@1 and precise
    "l2": [{"source": "a.md", "line_start": 1, "line_end": 4, "line": 2},
           {"source": "a.md", "line_start": 8, "line_end": 12, "line": 10}],  # hit@5 only
    "p1": [],  # answerable but abstained on: dropped
    "u1": [],  # abstained, rightly
    "u2": [{"source": "a.md", "line_start": 1, "line_end": 4, "line": 3}],
}


def test_per_style_scores_count_each_style_alone() -> None:
    styles = scoring.by_style(QUESTIONS, HITS)
    assert list(styles) == ["lexical", "paraphrase", "unanswerable"]
    lex, para, unans = styles["lexical"], styles["paraphrase"], styles["unanswerable"]
    assert (lex["hit@1"], lex["hit@5"], lex["precise@1"], lex["mrr@10"], lex["dropped"]) == (0.5, 1.0, 0.5, 0.75, 0)
    assert lex["abstain"] is None and lex["answerable"] == 2
    assert (para["hit@1"], para["hit@5"], para["precise@1"], para["dropped"]) == (0.0, 0.0, 0.0, 1)
    assert unans["hit@1"] is None and unans["abstain"] == 0.5 and unans["unanswerable"] == 2
    overall, dropped = scoring.evaluate(QUESTIONS, HITS)
    assert (overall["hit@1"], overall["hit@5"], overall["abstain"], dropped) == (0.333, 0.667, 0.5, 1)


def test_no_styles_no_per_style_scores() -> None:
    assert scoring.by_style([{"question": "q", "gold": []}], {}) == {}


def _result(corpus: str, key: str, metrics: dict[str, Any], **kw: Any) -> SystemResult:
    full = {"answerable": 40, "hit@1": 0.0, "hit@5": 0.0, "mrr@10": 0.0, "precise@1": 0.0, "unanswerable": 10,
            "abstain": 0.0, **metrics}
    return SystemResult(corpus=corpus, system=f"{key} on {corpus}", key=key, k=5, metrics=full, **kw)


def _docs_results() -> list[SystemResult]:
    return [
        _result("pydantic", "citebot-default", {"hit@1": 0.70, "hit@5": 0.90, "precise@1": 0.50, "abstain": 0.4},
                dropped=3, chunks=800, p50_ms=50.0, p95_ms=130.0,
                by_style=scoring.by_style(QUESTIONS, HITS)),
        _result("pydantic", "plain-bm25", {"hit@1": 0.60, "hit@5": 0.86}),
        _result("pydantic", "langchain", {"hit@1": 0.66, "hit@5": 0.80}),
        _result("textual", "citebot-default", {"hit@1": 0.5, "hit@5": 0.9}, chunks=300, p50_ms=10.0, p95_ms=10.0),
    ]


def test_docs_targets_are_met_or_missed_with_signed_margins() -> None:
    found = {(t.corpus, t.name): t for t in report.targets(_docs_results())}
    assert found[("pydantic", "hit@1")].met is True and found[("pydantic", "hit@1")].gap == "+0.050"
    assert found[("pydantic", "hit@5")].met is True
    assert found[("pydantic", "precise@1")].met is True and found[("pydantic", "precise@1")].gap == "+0.000"
    assert found[("pydantic", "abstain")].met is False
    dropped = found[("pydantic", "answerable dropped")]  # 3 of 40 = 7.5 % > 5 %
    assert dropped.met is False and dropped.measured == 7.5 and dropped.gap == "-2.5 %"
    assert found[("pydantic", "hit@1 lead over plain BM25")].met is True  # 0.10 ahead
    assert found[("pydantic", "hit@1 lead over LangChain")].met is False  # 0.04 ahead: short of 0.05
    assert found[("pydantic", "hit@1 lead over LangChain")].gap == "-0.010"
    assert found[("pydantic", "hit@5 lead over plain BM25")].met is False  # 0.04 ahead
    assert found[("pydantic", "hit@5 lead over LangChain")].met is True
    assert found[("textual", "hit@1 lead over plain BM25")].met is None  # no baseline in this run
    assert found[("textual", "hit@1")].met is False
    # Latency is judged on the largest docs index only (pydantic: 800 chunks against textual's 300).
    latency = [t for t in found.values() if t.name.startswith("warm ask")]
    assert {t.corpus for t in latency} == {"pydantic"}
    assert [t.met for t in latency] == [True, False]
    assert "largest docs index, 800 chunks" in latency[0].name


def test_squad_targets_hold_the_no_regression_bar() -> None:
    sq = _result("squad", "citebot-default", {"hit@1": 0.815, "hit@5": 0.95, "precise@1": 0.60})
    found = {t.name: t for t in report.targets([sq]) if t.corpus == "squad"}
    assert found["hit@1"].met is False and found["hit@1"].goal == "≥ 0.820"
    assert found["hit@5"].met is True and found["precise@1"].met is True


def test_report_shows_a_style_table_for_docs_and_none_for_unstyled_corpora() -> None:
    run = Run(command="make bench", started="now", machine={}, settings={},
              systems=[*_docs_results(), _result("news", "citebot-default", {})])
    text = report.render(run)
    assert "## Targets (issues 4 and 10)" in text
    assert "| lexical (n=2) hit@1 / hit@5 / precise@1 | paraphrase (n=1) hit@1 / hit@5 / precise@1 " \
           "| unanswerable (n=2) abstain |" in text
    assert "| citebot-default on pydantic | 0.500 / 1.000 / 0.500 | 0.000 / 0.000 / 0.000 | 0.500 " \
           "| 0.700 / 0.900 / 0.500 | 0.400 | 3 of 40 (7.5 %) |" in text
    assert text.count("By question style") == 1  # pydantic only: the other rows carry no styles
    again = Run.from_json(json.loads(json.dumps(run.to_json())))
    assert again.systems[0].by_style == run.systems[0].by_style


def test_plain_bm25_ranks_splits_and_abstains_without_shared_words() -> None:
    rows: list[dict[str, object]] = [{"source": "animals.md", "line_start": 1, "line_end": 4},
                                     {"source": "space.md", "line_start": 1, "line_end": 3}]
    index = bm25_run.PlainBM25.of(rows, ["The cheetah is the fastest land animal.",
                                         "Jupiter is the largest planet in the solar system."])
    found = index.search("Which planet is the largest?", 10)
    assert [h["source"] for h in found] == ["space.md"] and "line" not in found[0]
    assert index.search("the is a", 10) == []  # stop words only
    assert index.search("quasar", 10) == []  # no word in the corpus


def test_plain_bm25_system_on_a_tiny_corpus(tmp_path: Path) -> None:
    pytest.importorskip("langchain_text_splitters")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "animals.md").write_text("# Animals\n\nThe cheetah is the fastest land animal.\n" + "filler\n" * 300)
    (docs / "space.md").write_text("# Space\n\nJupiter is the largest planet in the solar system.\n")
    questions: list[dict[str, Any]] = [
        {"question": "Which is the fastest land animal?", "gold": [{"source": "animals.md", "line": 3}],
         "style": "lexical"},
        {"question": "What is the largest planet?", "gold": [{"source": "space.md", "line": 3}],
         "style": "paraphrase"},
        {"question": "Who wrote Hamlet?", "gold": [], "style": "unanswerable"},
    ]
    out = bm25_run.run(data.Dataset("tiny", docs, questions), 10, repeat=1, latency_passes=2)
    r = out.result
    assert r.key == "plain-bm25" and r.chunks >= 3 and r.p50_ms is not None and r.p50_best_ms is not None
    assert r.metrics["hit@1"] == 1.0 and r.metrics["abstain"] == 1.0 and r.dropped == 0
    top = out.hits["Which is the fastest land animal?"][0]
    assert top["source"] == "animals.md" and top["line_start"] <= 3 <= top["line_end"] < 300  # a split, not the file
    assert all(len(ms) == 2 for ms in out.timings.values())

"""Fit the line scorer's weights on SQuAD questions that the benchmark sample does not use.

Usage: python scripts/fit_line_scorer.py DB_PATH ../shared/bench/squad
DB_PATH must hold an index of the SQuAD corpus built with the default settings. The held-out
questions are exactly the benchmark's fixed-seed sample of 1,000 (``bench.data.sample``), so the
benchmark never scores a question the weights were fitted on. Prints the weights as Python to
paste into index/linescore.py, and line accuracy on the held-out sample.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import dedupe, sample  # noqa: E402
from index import Engine, Settings  # noqa: E402
from index.evaluate import load_questions  # noqa: E402
from index.linescore import FEATURES, line_features, prepare  # noqa: E402
from index.textproc import terms  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db", type=Path)
    ap.add_argument("squad", type=Path)
    args = ap.parse_args()
    engine = Engine(Settings(db_path=args.db, _env_file=None))
    valid, keyword = engine.searcher._refresh()
    chunks = engine.store.get(sorted(valid))
    by_source: dict[str, list] = {}
    for c in chunks:
        by_source.setdefault(c.source, []).append(c)
    questions = dedupe(load_questions(args.squad / "questions.jsonl"))
    benchmark = {q["question"] for q in sample(questions, 1000)}
    held = [q for q in questions if q["question"] in benchmark]
    train = [q for q in questions if q["question"] not in benchmark]

    def examples(qs: list[dict]) -> list[tuple[np.ndarray, np.ndarray]]:
        vecs = engine.embedder.embed_queries([q["question"] for q in qs])
        out = []
        for q, qv in zip(qs, vecs):
            gold = {(g["source"], g["line"]) for g in q["gold"]}
            q_idf = {t: keyword.term_idf(t) for t in set(terms(q["question"]))}
            for c in by_source.get(q["gold"][0]["source"], []):
                numbers = [u[0] for u in c.units]
                if not any((c.source, n) in gold for n in numbers):
                    continue
                x = line_features(q["question"], q_idf, qv, prepare(c.text.split("\n")), c.lines_matrix())
                y = np.array([(c.source, n) in gold for n in numbers], dtype=np.float32)
                out.append((x, y))
        return out

    from sklearn.linear_model import LogisticRegression

    tr = examples(train)
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit(np.vstack([x for x, _ in tr]), np.concatenate([y for _, y in tr]))
    w, b = model.coef_[0], float(model.intercept_[0])
    te = examples(held)
    acc = np.mean([y[int(np.argmax(x @ w + b))] for x, y in te])
    base = np.mean([y[int(np.argmax(x[:, 0] + x[:, 4]))] for x, y in te])
    print(f"held-out line accuracy in gold chunks: {acc:.3f} (lex+sem baseline {base:.3f}); {len(tr)} train chunks")
    print("WEIGHTS = np.array([" + ", ".join(f"{v:.4f}" for v in w) + "], dtype=np.float32)")
    print(f"BIAS = {b:.4f}")
    for name, v in zip(FEATURES, w):
        print(f"  {name:>10}: {v:+.3f}")


if __name__ == "__main__":
    main()

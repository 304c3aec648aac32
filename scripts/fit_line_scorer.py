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

from citebot.index.linescore import FEATURES, line_features  # noqa: E402
from scripts.squad_passages import gold_passages  # noqa: E402


def main() -> None:
    from citebot.index import configure_process

    configure_process()
    ap = argparse.ArgumentParser()
    ap.add_argument("db", type=Path)
    ap.add_argument("squad", type=Path)
    args = ap.parse_args()
    passages = gold_passages(args.db, args.squad, every_chunk=True)

    def examples(held_out: bool) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (line_features(g.question, g.q_idf, g.q_vec, g.passage, g.line_vectors), g.gold.astype(np.float32))
            for g in passages if g.benchmark == held_out
        ]

    from sklearn.linear_model import LogisticRegression

    tr = examples(False)
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit(np.vstack([x for x, _ in tr]), np.concatenate([y for _, y in tr]))
    w, b = model.coef_[0], float(model.intercept_[0])
    te = examples(True)
    acc = np.mean([y[int(np.argmax(x @ w + b))] for x, y in te])
    base = np.mean([y[int(np.argmax(x[:, 0] + x[:, 4]))] for x, y in te])
    print(f"held-out line accuracy in gold chunks: {acc:.3f} (lex+sem baseline {base:.3f}); {len(tr)} train chunks")
    print("WEIGHTS = np.array([" + ", ".join(f"{v:.4f}" for v in w) + "], dtype=np.float32)")
    print(f"BIAS = {b:.4f}")
    for name, v in zip(FEATURES, w):
        print(f"  {name:>10}: {v:+.3f}")


if __name__ == "__main__":
    main()

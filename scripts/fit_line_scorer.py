"""Fit the line scorer's weights (``index/line_scorer.json``) on SQuAD questions the benchmark does not ask.

Usage: python scripts/fit_line_scorer.py DB_PATH ../shared/bench/squad [--out FILE] [--dry-run]
(``make train`` runs it after indexing the corpus into ``build/train-db``.)

DB_PATH must hold an index of the SQuAD corpus built with the default settings and the bundled model.
Every indexed chunk holding a gold line of a question is one training example: one row of features per
line (``LinePicker.features``, exactly what answering computes), labelled gold or not. The held-out
questions are exactly the benchmark's fixed-seed sample of 1,000 (``bench.data.sample``), so the
benchmark never scores a question the weights were fitted on. Prints the held-out line accuracy of the
weights in FILE (before) and of the new fit (after), then writes the new weights to FILE unless
``--dry-run``. Uses scikit-learn, installed with sentence-transformers.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import SEED  # noqa: E402
from citebot.index.errors import CitebotError  # noqa: E402
from citebot.index.linepick import LinePicker  # noqa: E402
from citebot.index.linescore import FEATURES, SCORER_FILE, LineScorer  # noqa: E402
from scripts.squad_passages import BENCHMARK_SAMPLE, GoldPassage, gold_passages  # noqa: E402

# scikit-learn's defaults, kept since the first fit (5d90460): plain L2 at strength 1; enough iterations to
# converge on ~40k lines of 22 features.
REGULARIZATION_C = 1.0
MAX_ITER = 2000

Example = tuple[np.ndarray, np.ndarray]  # (features per line, gold flag per line)


def accuracy(scorer: LineScorer, examples: list[Example]) -> float:
    """Share of chunks whose highest-scored line is gold."""
    return float(np.mean([y[int(np.argmax(scorer.logits(x)))] for x, y in examples]))


def commit() -> str:
    """The commit the fit ran at, marked when the scorer's code differs from it."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "index", "scripts"], cwd=root, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (with uncommitted changes to index/ or scripts/)" if dirty else "")


def main() -> None:
    from citebot.index import configure_process

    configure_process()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db", type=Path)
    ap.add_argument("squad", type=Path)
    ap.add_argument("--out", type=Path, default=SCORER_FILE)
    ap.add_argument("--dry-run", action="store_true", help="print the fit, write nothing")
    args = ap.parse_args()
    passages = gold_passages(args.db, args.squad, every_chunk=True)

    def examples(gs: list[GoldPassage]) -> list[Example]:
        return [(LinePicker.features(g.passage, g.line_vectors, g.query), g.gold.astype(np.float32)) for g in gs]

    train = examples([g for g in passages if not g.benchmark])
    held_out = examples([g for g in passages if g.benchmark])
    train_questions = len({g.question for g in passages if not g.benchmark})

    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=REGULARIZATION_C, max_iter=MAX_ITER)
    model.fit(np.vstack([x for x, _ in train]), np.concatenate([y for _, y in train]))
    # Scored as it will ship: the file keeps four decimals.
    new = LineScorer.from_json(LineScorer(model.coef_[0].astype(np.float32), float(model.intercept_[0])).to_json())
    try:
        old: LineScorer | None = LineScorer.load(args.out)
    except CitebotError as exc:
        old = None
        print(f"no usable weights to compare with: {exc}")
    new_acc = accuracy(new, held_out)
    base = float(np.mean([y[int(np.argmax(x[:, FEATURES.index("lex")] + x[:, FEATURES.index("sem")]))]
                          for x, y in held_out]))
    before = f"{accuracy(old, held_out):.3f} -> " if old is not None else ""
    print(f"held-out line accuracy in gold chunks ({len(held_out)} chunks of the benchmark's questions): "
          f"{before}{new_acc:.3f} (lex+sem baseline {base:.3f}); fitted on {len(train)} chunks of "
          f"{train_questions} questions")
    print(f"  {'feature':>14}  {'old':>8}  {'new':>8}")
    old_w = old.weights if old is not None else np.full(len(FEATURES), np.nan)
    for name, a, b in zip((*FEATURES, "bias"), (*old_w, old.bias if old else np.nan), (*new.weights, new.bias)):
        print(f"  {name:>14}  {a:+8.4f}  {b:+8.4f}")
    if args.dry_run:
        return
    provenance = {
        "model": "logistic regression (scikit-learn LogisticRegression, "
                 f"C={REGULARIZATION_C}) over one row of features per line; label: the line is gold",
        "fitted_by": f"scripts/fit_line_scorer.py {args.db} {args.squad} (make train)",
        "data": "SQuAD v1.1 dev, first half (../shared/bench/squad, 24 Wikipedia articles, CC BY-SA 4.0): every "
                f"indexed chunk holding a gold line of the {train_questions:,} distinct questions outside the "
                f"benchmark's fixed-seed sample of {BENCHMARK_SAMPLE:,} (seed {SEED})",
        "index": "default settings, bundled all-MiniLM-L6-v2 (Apache-2.0) line vectors",
        "held_out": f"the benchmark's {BENCHMARK_SAMPLE:,} questions, in their gold chunks",
        "held_out_line_accuracy": round(new_acc, 3),
        "train_chunks": len(train),
        "commit": commit(),
    }
    LineScorer(new.weights, new.bias, provenance).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

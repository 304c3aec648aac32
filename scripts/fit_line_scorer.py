"""Fit the two line scorers: ``index/line_scorer.json`` on SQuAD questions the benchmark does not ask, and
``index/line_scorer_code.json`` (for passages that name code) on the documentation dev sets besides.

Usage: python scripts/fit_line_scorer.py DB_PATH ../shared/bench/squad [--work build/rerank] [--dry-run]
(``make train`` runs it after indexing the corpus into ``build/train-db``.)

DB_PATH must hold an index of the SQuAD corpus built with the default settings and the bundled model.
Every indexed chunk holding a gold line of a question is one training example: one row of features per
line (``LinePicker.features``, exactly what answering computes), labelled gold or not. The held-out
questions are exactly the benchmark's fixed-seed sample of 1,000 (``bench.data.sample``), so the
benchmark never scores a question the weights were fitted on.

The code scorer learns from the same SQuAD rows plus the gold chunks of the three documentation dev
sets (``scripts/docs_sets.py``, indexed under ``--work``, shared with ``fit_reranker.py``), each set
weighing ``DOCS_WEIGHT`` times SQuAD. Each set is held out in turn first (fitted on SQuAD and the other
two) and its line accuracy printed next to the prose scorer's: the honest figure for documentation the
weights never saw. Writes both files unless ``--dry-run``. Uses scikit-learn.
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
from citebot.index.linescore import CODE_SCORER_FILE, FEATURES, SCORER_FILE, LineScorer  # noqa: E402
from scripts.docs_sets import docs_sets, gold_chunks, indexed  # noqa: E402
from scripts.squad_passages import BENCHMARK_SAMPLE, GoldPassage, gold_passages  # noqa: E402

# scikit-learn's defaults, kept since the first fit (5d90460): plain L2 at strength 1; enough iterations to
# converge on ~40k lines of 23 features.
REGULARIZATION_C = 1.0
MAX_ITER = 2000
# Weight of each documentation set in the code scorer's fit, SQuAD's being 1 (spread over its chunks, as each
# set's over its own). Tried 0, 0.5, 1 and 3 with each set held out in turn: 3 gave the best held-out line
# accuracy (first gold chunk per question: 0.62 / 0.71 / 0.67 on pydantic / discord.py / Textual, against
# 0.47 / 0.63 / 0.63 for the prose scorer); more would let 130 documentation questions outweigh 3,932.
DOCS_WEIGHT = 3.0

# (features per line, gold flag per line, lines that may not answer: markup and headings)
Example = tuple[np.ndarray, np.ndarray, np.ndarray]


def accuracy(scorer: LineScorer, examples: list[Example]) -> float:
    """Share of chunks whose highest-scored line (markup and headings left out, as answering does) is gold."""
    hits = []
    for x, y, blocked in examples:
        z = scorer.logits(x)
        if (~blocked).any():
            z = np.where(blocked, -np.inf, z)
        hits.append(bool(y[int(np.argmax(z))]))
    return float(np.mean(hits)) if hits else 0.0


def fit(groups: list[tuple[list[Example], float]]) -> LineScorer:
    """Logistic regression on every line of every example; each group of examples weighs its weight in all,
    spread equally over its examples. Returned as it will ship (the file keeps four decimals)."""
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([e[0] for g, _ in groups for e in g])
    y = np.concatenate([e[1] for g, _ in groups for e in g])
    w = np.concatenate([np.full(len(e[1]), weight / len(g)) for g, weight in groups for e in g])
    model = LogisticRegression(C=REGULARIZATION_C, max_iter=MAX_ITER).fit(x, y, sample_weight=w * len(w) / w.sum())
    return LineScorer.from_json(LineScorer(model.coef_[0].astype(np.float32), float(model.intercept_[0])).to_json())


def docs_examples(shared: Path, work: Path) -> dict[str, list[Example]]:
    """Per documentation set, every indexed chunk holding a gold line, its lines as answering sees them."""
    from citebot.index import chatter
    from citebot.index.linescore import Query, prepare

    out: dict[str, list[Example]] = {}
    for name, (folder, questions) in docs_sets(shared).items():
        engine = indexed(name, folder, work)
        _, keyword = engine.searcher._refresh()
        found = gold_chunks(engine, [q for q in questions if q["gold"]])
        asked = [chatter.core(q["question"]) for q, _, _ in found]  # what search reads
        vectors = engine.embedder.embed_queries(asked) if asked else np.zeros((0, 1), np.float32)
        examples = []
        for (_, chunk, flags), text, vec in zip(found, asked, vectors):
            passage = prepare(chunk.text.split("\n"))
            blocked = np.zeros(len(flags), dtype=bool)
            blocked[[i for i in chunk.markup if 0 <= i < len(flags)]] = True
            x = LinePicker.features(passage, chunk.lines_matrix(), Query.of(text, vec, keyword.term_idf))
            examples.append((x, flags.astype(np.float32), blocked))
        out[name] = examples
    return out


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
    ap.add_argument("--shared", type=Path, help="the shared data folder (default: two levels above SQUAD)")
    ap.add_argument("--work", type=Path, default=Path("build/rerank"), help="where the documentation sets are "
                    "indexed (shared with fit_reranker.py)")
    ap.add_argument("--out", type=Path, default=SCORER_FILE)
    ap.add_argument("--code-out", type=Path, default=CODE_SCORER_FILE)
    ap.add_argument("--dry-run", action="store_true", help="print the fit, write nothing")
    args = ap.parse_args()
    shared = args.shared or args.squad.resolve().parents[1]

    passages = gold_passages(args.db, args.squad, every_chunk=True)

    def examples(gs: list[GoldPassage]) -> list[Example]:
        return [(LinePicker.features(g.passage, g.line_vectors, g.query), g.gold.astype(np.float32),
                 np.zeros(len(g.gold), dtype=bool)) for g in gs]

    train = examples([g for g in passages if not g.benchmark])
    held_out = examples([g for g in passages if g.benchmark])
    train_questions = len({g.question for g in passages if not g.benchmark})
    new = fit([(train, 1.0)])
    try:
        old: LineScorer | None = LineScorer.load(args.out)
    except CitebotError as exc:
        old = None
        print(f"no usable weights to compare with: {exc}")
    new_acc = accuracy(new, held_out)
    base_acc = float(np.mean([y[int(np.argmax(x[:, FEATURES.index("lex")] + x[:, FEATURES.index("sem")]))]
                              for x, y, _ in held_out]))
    before = f"{accuracy(old, held_out):.3f} -> " if old is not None else ""
    print(f"held-out line accuracy in gold chunks ({len(held_out)} chunks of the benchmark's questions): "
          f"{before}{new_acc:.3f} (lex+sem baseline {base_acc:.3f}); fitted on {len(train)} chunks of "
          f"{train_questions} questions")

    docs = docs_examples(shared, args.work)
    held_docs = {}
    for name in docs:
        others = [(docs[n], DOCS_WEIGHT) for n in docs if n != name]
        code = fit([(train, 1.0), *others])
        held_docs[name] = {"code_scorer": round(accuracy(code, docs[name]), 3),
                           "prose_scorer": round(accuracy(new, docs[name]), 3), "chunks": len(docs[name])}
        print(f"held out {name}: line accuracy in gold chunks {held_docs[name]}")
    code = fit([(train, 1.0), *[(docs[n], DOCS_WEIGHT) for n in docs]])
    print(f"  {'feature':>14}  {'prose':>8}  {'code':>8}")
    for name, a, b in zip((*FEATURES, "bias"), (*new.weights, new.bias), (*code.weights, code.bias)):
        print(f"  {name:>14}  {a:+8.4f}  {b:+8.4f}")
    if args.dry_run:
        return
    squad_data = ("SQuAD v1.1 dev, first half (../shared/bench/squad, 24 Wikipedia articles, CC BY-SA 4.0): every "
                  f"indexed chunk holding a gold line of the {train_questions:,} distinct questions outside the "
                  f"benchmark's fixed-seed sample of {BENCHMARK_SAMPLE:,} (seed {SEED})")
    common = {
        "model": "logistic regression (scikit-learn LogisticRegression, "
                 f"C={REGULARIZATION_C}) over one row of features per line; label: the line is gold",
        "fitted_by": f"scripts/fit_line_scorer.py {args.db} {args.squad} (make train)",
        "index": "default settings, bundled all-MiniLM-L6-v2 (Apache-2.0) line vectors",
        "commit": commit(),
    }
    LineScorer(new.weights, new.bias, {
        **common, "data": squad_data,
        "held_out": f"the benchmark's {BENCHMARK_SAMPLE:,} questions, in their gold chunks",
        "held_out_line_accuracy": round(new_acc, 3), "train_chunks": len(train),
    }).save(args.out)
    LineScorer(code.weights, code.bias, {
        **common,
        "used_for": "passages with a line that names code (linescore.PassageLines.code), never re-read by the reader",
        "data": f"{squad_data}; plus every indexed chunk holding a gold line of the answerable questions of the "
                "documentation dev sets (../shared/eval docs_dev.jsonl, docs_dev_discordpy.jsonl, "
                f"docs_dev_textual.jsonl; the docs' own licences), each set weighing {DOCS_WEIGHT} times SQuAD",
        "held_out_docs": held_docs, "train_chunks": len(train) + sum(len(d) for d in docs.values()),
    }).save(args.code_out)
    print(f"wrote {args.out} and {args.code_out}")


if __name__ == "__main__":
    main()

"""The passage reranker and the answerability model: which candidate answers, and whether any does.

Fusion (reciprocal ranks of the dense and keyword rankings) finds the answering passage among its first
40 for nearly every question, but orders them by rank alone. The reranker looks at each of the first
candidates whole: where each retriever ranked it, how close its meaning is, how well its best line covers
the question's rare words, whether the question's words name its section, how list-shaped it is (release
notes, link lists), and what the question asks about that no passage mentions. Then the answerability
model reads the best candidate's scores and those question-level signals, and gives the probability that
the documents answer at all; below ``min_answer`` citebot says they do not.

Both are logistic models fitted by ``scripts/fit_reranker.py`` (``make train``) on four corpora, weights
keyed by feature name in ``index/reranker.json``, checked at load; ``index/reranker.md`` is the model card.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import weights
from .errors import CitebotError

RERANKER_FILE = Path(__file__).with_name("reranker.json")
REFIT = "scripts/fit_reranker.py (make train)"

FEATURES = (
    "fused",  # the fused score over the best candidate's: how far down the fused ranking it is
    "dense_rr",  # 1 / (1 + rank) in the dense ranking; 0 when dense search did not return it
    "keyword_rr",  # 1 / (1 + rank) in the keyword ranking; 0 when keyword search did not return it
    "keyword_share",  # its BM25 score over the best BM25 score of the question; 0 when not returned
    "cosine",  # the passage vector's cosine with the question's
    "line_match",  # its best line's blend of meaning and rare-word coverage (linepick)
    "pick_score",  # the line scorer's confidence in its answering line
    "cover",  # share of the question's term weight (idf) found anywhere in the passage or its heading path
    "heading_cover",  # share of the question's term weight found in its heading path: the section's name
    "prose",  # share of its lines that are prose, not list-shaped (StoredChunk.prose)
    # Of the question, the same for every candidate (they move every probability, not the order):
    "unknown",  # share of the question's term weight (idf) that no indexed passage uses
    "unknown_name",  # 1 when a question word no passage uses is a rare name (the tokenizer splits it)
)

ANSWER_FEATURES = (
    "top_logit",  # the reranker's log-odds for its best candidate
    "top_margin",  # how far the best candidate stands above the fifth: one clear answer, or many lukewarm ones
    "top_cosine",  # the best candidate's cosine
    "top_line_match",  # the best candidate's best line match
    "top_cover",  # the best candidate's coverage of the question's term weight
    "unknown",  # as in FEATURES
    "unknown_name",
)
MARGIN_RANK = 4  # the fifth candidate (0-based 4): the page of hits a member sees


@dataclass(frozen=True)
class Model:
    """Logistic weights over ``names`` (in that order) and a bias."""

    names: tuple[str, ...]
    weights: np.ndarray
    bias: float

    def logits(self, features: np.ndarray) -> np.ndarray:
        return (features @ self.weights + self.bias).astype(np.float32)


@dataclass(frozen=True)
class Reranker:
    """The candidate model, the answerability model and its threshold; ``provenance`` is kept, never read."""

    candidates: Model
    answerable: Model
    min_answer: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def order(self, features: np.ndarray) -> np.ndarray:
        """Per candidate (a row of ``FEATURES``): the log-odds that it holds the answer."""
        return self.candidates.logits(features)

    def answerability(self, features: np.ndarray, logits: np.ndarray) -> float:
        """The probability that the best candidate answers the question, from ``answer_features``."""
        row = answer_features(features, logits)
        return float(1.0 / (1.0 + np.exp(-self.answerable.logits(row[None, :])[0])))

    @classmethod
    def from_json(cls, data: object, where: str = "the reranker's weights") -> Reranker:
        if not isinstance(data, dict) or not isinstance(data.get("answerable"), dict):
            raise CitebotError(f"{where}: expected an object with \"features\", \"bias\" and \"answerable\"")
        w, b, rest = weights.parse(data, FEATURES, where, REFIT)
        aw, ab, arest = weights.parse(data["answerable"], ANSWER_FEATURES, f"{where} (answerable)", REFIT)
        cut = arest.get("min_answer")
        if isinstance(cut, bool) or not isinstance(cut, int | float) or not 0 <= cut <= 1:
            raise CitebotError(f"{where}: answerable.min_answer must be a probability (0..1), not {cut!r}")
        provenance = {k: v for k, v in rest.items() if k != "answerable"}
        return cls(Model(FEATURES, w, b), Model(ANSWER_FEATURES, aw, ab), float(cut), provenance)

    @classmethod
    def load(cls, path: Path = RERANKER_FILE) -> Reranker:
        return cls.from_json(weights.read_json(path, "the reranker's weights"), str(path))

    def to_json(self) -> dict[str, Any]:
        answerable = {**weights.dump(ANSWER_FEATURES, self.answerable.weights, self.answerable.bias),
                      "min_answer": round(self.min_answer, 4)}
        return {**weights.dump(FEATURES, self.candidates.weights, self.candidates.bias), "answerable": answerable,
                **self.provenance}

    def save(self, path: Path = RERANKER_FILE) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")


def answer_features(features: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """One row of ``ANSWER_FEATURES`` from the candidates' features and the reranker's logits."""
    col = {f: i for i, f in enumerate(FEATURES)}
    if not len(logits):
        return np.zeros(len(ANSWER_FEATURES), np.float32)
    order = np.argsort(-logits)
    best = features[order[0]]
    fifth = logits[order[min(MARGIN_RANK, len(order) - 1)]]
    return np.array([
        logits[order[0]], logits[order[0]] - fifth, best[col["cosine"]], best[col["line_match"]],
        best[col["cover"]], best[col["unknown"]], best[col["unknown_name"]],
    ], dtype=np.float32)

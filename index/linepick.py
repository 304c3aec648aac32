"""Which line of a passage answers the question: the one place that scores a candidate's lines.

Search asks two things of a passage's lines: how well the passage matches the question (its best
line's blend of meaning and rare-word coverage, used to rank passages) and which line to cite (the
line scorer's pick, which the line reader may move for the top hit). Both come from one pass over
the lines here: the question-word coverage and the line cosines are computed once and feed both the
match and the scorer's features.

Input: the cached ``PassageLines`` of a candidate, its line vectors (from the store) and the
``Query``. Output: a ``LinePick``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .linescore import CODE_SCORER_FILE, LineScorer, PassageLines, Query, line_coverage, line_features
from .reader import LineReader, blend, window

log = logging.getLogger(__name__)

# match = share * line cosine + (1 - share) * rare-word coverage. 0.5 at first (1afb45f); 0.3 since the fusion
# and the answer-line bonus were tuned together on SQuAD (5d90460).
LINE_SEMANTIC_SHARE = 0.3
# The log-odds given to lines that may not answer (markup, headings: StoredChunk.markup): far below any line the
# scorer can score (its logits stay within about +-20), so neither the pick nor the reader's blend lands there.
BLOCKED_LOGIT = -1e3


@dataclass(frozen=True)
class LinePick:
    """How a passage's lines answer one question."""

    logits: np.ndarray  # per line: the line scorer's log-odds that it answers
    match: float  # the best line's blend of meaning and rare-word coverage: ranks the passage
    index: int  # the answering line: the scorer's pick, or the reader's after ``reread``
    score: float  # the scorer's confidence in its own pick (sigmoid of its logit): ranks the passage too


class LinePicker:
    """Scores every line of a candidate with the line scorer; re-reads the top hit's lines with the reader.

    A passage that names code (``PassageLines.code``: documentation) is scored by the code scorer, fitted
    on documentation questions, and the reader never reads lines that name code: it learnt from Wikipedia
    prose and never saw code, and reading such windows moved correct picks away more often than it fixed
    them on the documentation dev sets. Prose lines around a pick are read even where the passage holds
    code further on (the sentence that introduces an example is packed with it: ``chunker._join_lead_ins``).
    A reader that fails (model missing, broken weights) is switched off with one warning: the scorer's
    picks stand, and answers keep coming.
    """

    def __init__(
        self, scorer: LineScorer | None = None, reader: LineReader | None = None, code_scorer: LineScorer | None = None
    ) -> None:
        self.scorer = scorer or LineScorer.load()
        self.code_scorer = code_scorer or LineScorer.load(CODE_SCORER_FILE)
        self.reader = reader

    def scorer_for(self, passage: PassageLines) -> LineScorer:
        """The model that scores this passage's lines: the code scorer where a line names code."""
        return self.code_scorer if passage.code.any() else self.scorer

    @staticmethod
    def features(passage: PassageLines, vectors: np.ndarray | None, query: Query) -> np.ndarray:
        """The scorer's features of each line, as ``pick`` computes them (what the fit script learns from)."""
        return _measure(passage, vectors, query)[1]

    def pick(
        self, passage: PassageLines, vectors: np.ndarray | None, query: Query, blocked: Sequence[int] = ()
    ) -> LinePick:
        """Score the lines of a passage (at least one line); ``vectors`` has one unit vector per line, or is
        None when the store holds none (the cosine is then replaced by the coverage). Lines in ``blocked``
        (markup and headings) and lines that ask a question (``PassageLines.asks``) are never picked,
        unless every line is one of them."""
        match, features = _measure(passage, vectors, query)
        logits = self.scorer_for(passage).logits(features)
        barred = {i for i in blocked if 0 <= i < len(logits)} | {int(i) for i in np.flatnonzero(passage.asks)}
        if barred and len(barred) < len(logits):
            logits = logits.copy()
            logits[sorted(barred)] = BLOCKED_LOGIT
        index = int(np.argmax(logits))
        return LinePick(logits, match, index, float(1.0 / (1.0 + np.exp(-logits[index]))))

    def reread(self, passage: PassageLines, pick: LinePick, query: Query) -> LinePick:
        """Let the reader move the answering line within a few lines of the scorer's pick (the top hit only:
        one short model pass). Without a reader, when a line of the window names code, or when the window
        holds one line, the pick stands."""
        reader = self.reader
        if reader is None:
            return pick
        try:
            config = reader.load()
            lo, hi = window(pick.index, [len(line) for line in passage.lines], config.window)
            if hi - lo < 2 or passage.code[lo:hi].any():
                return pick
            logprob = reader.read(query.text, passage.lines[lo:hi])
            return replace(pick, index=lo + blend(logprob, pick.logits[lo:hi], config.blend))
        except Exception as exc:  # noqa: BLE001 - a broken reader costs line precision, never the answer
            log.warning("line reader off, the line scorer's picks stand: %s",
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            self.reader = None
            return pick


def _measure(passage: PassageLines, vectors: np.ndarray | None, query: Query) -> tuple[float, np.ndarray]:
    """The passage's match and its lines' features, from one coverage and one cosine per line."""
    lexical = line_coverage(passage, query)
    semantic = vectors @ query.vector if vectors is not None and len(vectors) == len(lexical) else lexical
    match = float(np.max(LINE_SEMANTIC_SHARE * semantic + (1 - LINE_SEMANTIC_SHARE) * lexical))
    return match, line_features(query, passage, lexical, semantic)

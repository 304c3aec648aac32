"""The real embedder's question path, which calls the model directly rather than through ``encode``, on
onnxruntime (the default) and on torch."""

from __future__ import annotations

import numpy as np
import pytest

from citebot.index.embedder import SentenceTransformerEmbedder


@pytest.mark.slow
@pytest.mark.parametrize("onnx", [True, False])
def test_question_vectors_match_sentence_transformers_encode(onnx: bool) -> None:
    embedder = SentenceTransformerEmbedder(onnx=onnx)
    questions = ["When is breakfast served?", "Who designed the footbridge over the river?"] * 3
    ours = embedder.embed_queries(questions)
    assert embedder.runtime == ("onnxruntime" if onnx else "torch")
    theirs = SentenceTransformerEmbedder(onnx=False)._load().encode(questions, normalize_embeddings=True)
    assert ours.shape == (6, 384)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert embedder.embed_queries([]).shape == (0, 384)

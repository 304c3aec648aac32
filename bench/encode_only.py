"""The floor every indexer stands on: the bare model encoding the same chunk texts, nothing else.

citebot's target is that chunking, hashing and storing add at most 15 % to this time, so it is
measured in the same process and run as the indexing it is compared with. Each indexer is held to the model on
the runtime it runs it with: citebot's on onnxruntime (``OnnxBaseline``, unless ``CITEBOT_ONNX=false``),
LangChain's on torch (``Baseline``), so neither's overhead hides a faster or slower runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .measure import Stopwatch, Timing


def load_model(path: str, device: str = "cpu") -> Any:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    model = SentenceTransformer(path, device=device)
    model.encode(["warm up"] * 8, batch_size=8)  # first call pays for lazy initialisation
    return model


class Baseline:
    """``baseline(texts)`` -> seconds the bare model takes to encode them."""

    def __init__(self, model: Any, batch_size: int) -> None:
        self.model, self.batch_size = model, batch_size

    def __call__(self, texts: Sequence[str]) -> Timing:
        return encode_timing(self.model, texts, self.batch_size)


class OnnxBaseline:
    """``baseline(texts)`` -> seconds the same model takes on onnxruntime, as citebot runs it: tokenizing, the
    exported transformer, pooling and normalizing, in batches of texts of similar length (as sentence-transformers'
    ``encode`` and citebot's indexer batch them: unsorted batches pad short texts to the longest, which made this
    floor 10 % slower than citebot's whole build on SQuAD), and nothing else (no offsets, no line vectors)."""

    def __init__(self, path: str, batch_size: int) -> None:
        from citebot.index.embedder import SentenceTransformerEmbedder

        self.embedder = SentenceTransformerEmbedder(path, "cpu", batch_size, onnx=True)
        self.embedder.embed_queries(["warm up"] * 8)  # loads and exports the model
        self.runtime = self.embedder.runtime  # "torch" where the model would not export

    def __call__(self, texts: Sequence[str]) -> Timing:
        with Stopwatch() as t:
            self.embedder.embed_queries(sorted(texts, key=len))
        return t.timing


def citebot_floor(path: str, device: str, batch_size: int, onnx: bool, torch_floor: Baseline | None = None
                  ) -> Baseline | OnnxBaseline:
    """The floor citebot's indexing is held to: the model on the runtime citebot runs it with (``torch_floor``,
    or a new torch one, where that is torch)."""
    if onnx and device == "cpu":
        return OnnxBaseline(path, batch_size)
    return torch_floor or Baseline(load_model(path, device), batch_size)


def encode_timing(model: Any, texts: Sequence[str], batch_size: int) -> Timing:
    """Wall and CPU seconds for ``model.encode`` over ``texts``, batched as sentence-transformers does."""
    with Stopwatch() as t:
        model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    return t.timing

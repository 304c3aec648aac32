"""Re-read the lines around the line scorer's pick with the question, to point at the answering line.

The line scorer (``linescore.py``) finds the sentence that matches the question well, but in wrapped
prose the answer is often on the line before or after the best match: which one depends on where
the name or number the question asks for sits in the sentence, and only a model that reads the
question and the text together can tell. The bundled all-MiniLM-L6-v2 becomes such a reader with
small low-rank adapters (LoRA, about 0.5 M weights, shipped as ``reader.npz`` beside this file)
trained by ``scripts/train_line_reader.py`` on SQuAD questions disjoint from the benchmark sample
(model card: ``reader.md``).

Only a window of lines around the scorer's pick is read, so the cost stays one short forward
pass per question (the top hit only). The adapters fit only the bundled model; with any other
model the reader is off and the line scorer's pick stands.
"""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .embedder import BUNDLED_MODEL, bundled_model_path
from .errors import CitebotError
from .onnx_encoder import OnnxEncoder, compile_encoder
from .settings import Settings

WEIGHTS_FILE = Path(__file__).with_name("reader.npz")
MAX_LENGTH = 256  # tokens: all-MiniLM-L6-v2's max_seq_length, question and window together
WINDOW_CHARS = 1000  # about 230 tokens with the question: inside the model's 256
MODULES = ("attention.self.query", "attention.self.value", "intermediate.dense", "output.dense")
HEAD_KEYS = ("head.weight", "head.bias")
TRUNCATED_LOGIT = -30.0  # a line cut off by truncation: e^-30 is nothing next to any line that was read


@dataclass(frozen=True)
class ReaderConfig:
    """How the adapters were trained; the window and the blend must match at answer time."""

    rank: int
    alpha: float
    window: int  # lines read on each side of the scorer's pick
    blend: float  # weight of the line scorer's logit next to the reader's log-probability
    max_length: int


def window(best: int, lengths: Sequence[int], half: int, budget: int = WINDOW_CHARS) -> tuple[int, int]:
    """The lines read: up to ``half`` on each side of ``best``, nearest first, while they fit ``budget`` characters.

    The budget keeps the pick itself inside what the model reads: long lines (a paragraph per line)
    would otherwise push it past the truncation point.
    """
    lo, hi = best, best + 1
    used = lengths[best] if lengths else 0
    for step in range(1, half + 1):
        for i in (best - step, best + step):
            if 0 <= i < len(lengths) and used + lengths[i] + 1 <= budget:
                used += lengths[i] + 1
                lo, hi = min(lo, i), max(hi, i + 1)
    return lo, hi


def blend(reader_logprob: np.ndarray, scorer_logit: np.ndarray, weight: float) -> int:
    """Index (within the window) of the line both agree on best."""
    return int(np.argmax(reader_logprob + weight * (scorer_logit - scorer_logit.max())))


def make_reader(settings: Settings, model_name: str) -> LineReader | None:
    """The reader when it applies: switched on, the bundled model embedding, and the adapters installed."""
    if not settings.line_reader or model_name != BUNDLED_MODEL or not WEIGHTS_FILE.exists():
        return None
    return LineReader(bundled_model_path(), onnx=settings.onnx, cache=settings.onnx_cache())  # always on the CPU


class LineReader:
    """The bundled model with the reading adapters merged in; loaded on first use, then shared."""

    def __init__(
        self, model_path: str, weights: Path = WEIGHTS_FILE, onnx: bool = False, cache: Path | None = None
    ) -> None:
        self._path = model_path
        self._weights = weights
        self._onnx = onnx
        self._cache = cache
        self._encoder: OnnxEncoder | None = None
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self._head_w = np.zeros(0, np.float32)
        self._head_b = 0.0
        self.config: ReaderConfig | None = None

    def load(self) -> ReaderConfig:
        """Load once (about a second); later calls return at once."""
        with self._lock:
            if self.config is not None:
                return self.config
            import torch
            from transformers import AutoModel, AutoTokenizer

            saved, config = read_weights(self._weights)
            model = AutoModel.from_pretrained(self._path)
            model.eval()
            check_fits(saved, config, model, self._weights)
            scale = config.alpha / config.rank
            with torch.no_grad():
                for i, layer in enumerate(model.encoder.layer):
                    for name in MODULES:
                        linear = layer.get_submodule(name)
                        a = torch.from_numpy(saved[f"{i}.{name}.A"].astype(np.float32))
                        b = torch.from_numpy(saved[f"{i}.{name}.B"].astype(np.float32))
                        linear.weight += scale * (b @ a)
            self._head_b = float(saved["head.bias"])
            self._tokenizer = AutoTokenizer.from_pretrained(self._path)
            if self._onnx:
                self._encoder = compile_encoder(model, self._tokenizer, torch.get_num_threads(), config.max_length,
                                                self._cache)
            self._model = model if self._encoder is None else None  # torch's copy is not needed any more
            self._head_w = saved["head.weight"].astype(np.float32)
            self.config = config
            return config

    def read(self, question: str, lines: Sequence[str]) -> np.ndarray:
        """Log-probability that each of ``lines`` holds the answer (they sum to one over the lines)."""
        import torch

        config = self.load()
        text = "\n".join(lines)
        with self._lock:  # one fast tokenizer must not be entered by two threads (see embedder.py)
            enc = self._tokenizer(question, text, truncation="only_second", max_length=config.max_length,
                                  return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping")[0].numpy()
        if self._encoder is not None:
            hidden = self._encoder(enc)[0]
        else:
            with torch.inference_mode():
                hidden = self._model(**enc).last_hidden_state[0].numpy()
        token_logit = hidden @ self._head_w + self._head_b
        line_of = token_lines(enc.sequence_ids(0), offsets, lines)
        return line_log_probs(token_logit, line_of, len(lines))


def read_weights(path: Path) -> tuple[dict[str, np.ndarray], ReaderConfig]:
    """The arrays of a reader file and its config, checked: every ``ReaderConfig`` field and nothing else, and
    the head. A wrong file is an error naming what is wrong (the adapters' own keys are checked against the
    model by ``check_fits``)."""
    try:
        with np.load(path) as npz:
            saved = {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise CitebotError(f"the line reader's weights are missing: {path}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # not an npz, or a truncated one
        raise CitebotError(f"cannot read the line reader's weights {path}: {exc}") from None
    missing = [k for k in ("config", *HEAD_KEYS) if k not in saved]
    if missing:
        raise CitebotError(f"{path} is not a line reader's weights: no {', '.join(missing)}")
    try:
        fields = json.loads(str(saved["config"]))
    except json.JSONDecodeError:
        raise CitebotError(f"{path}: its config is not JSON") from None
    expected = set(ReaderConfig.__dataclass_fields__)
    if not isinstance(fields, dict) or set(fields) != expected:
        got = sorted(fields) if isinstance(fields, dict) else fields
        raise CitebotError(f"{path}: its config must hold exactly {', '.join(sorted(expected))}; it holds {got}")
    config = ReaderConfig(**fields)
    if config.rank < 1 or config.window < 1 or config.max_length < 1:
        raise CitebotError(f"{path}: rank, window and max_length must be positive: {fields}")
    return saved, config


def check_fits(saved: dict[str, np.ndarray], config: ReaderConfig, model: Any, path: Path) -> None:
    """One A (rank x in) and one B (out x rank) per adapted layer of ``model``, and no other arrays."""
    expected = {"config", *HEAD_KEYS}
    for i, layer in enumerate(model.encoder.layer):
        for name in MODULES:
            linear = layer.get_submodule(name)
            shapes = {"A": (config.rank, linear.in_features), "B": (linear.out_features, config.rank)}
            for part, shape in shapes.items():
                key = f"{i}.{name}.{part}"
                expected.add(key)
                if key not in saved:
                    raise CitebotError(f"{path}: no adapter {key}: it was not trained for this model")
                if saved[key].shape != shape:
                    raise CitebotError(f"{path}: adapter {key} is {saved[key].shape}, the model needs {shape}")
    extra = sorted(set(saved) - expected)
    if extra:
        raise CitebotError(f"{path}: unknown arrays {', '.join(extra[:3])}: it was trained for another model")
    if saved["head.weight"].shape != (model.config.hidden_size,):
        raise CitebotError(f"{path}: the head is {saved['head.weight'].shape}, the model needs "
                           f"({model.config.hidden_size},)")


def token_lines(sequence_ids: Sequence[int | None], offsets: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """Per token, the index of the passage line it comes from; -1 for the question and special tokens."""
    starts = np.cumsum([0] + [len(line) + 1 for line in lines[:-1]])
    passage = np.array([s == 1 for s in sequence_ids], dtype=bool)
    line_of = np.full(len(offsets), -1, dtype=np.int64)
    line_of[passage] = np.searchsorted(starts, offsets[passage, 0], side="right") - 1
    return line_of


def line_log_probs(token_logit: np.ndarray, line_of: np.ndarray, n_lines: int) -> np.ndarray:
    """A line's logit is the log-sum-exp of its tokens' (any token may be the answer); softmax over lines.

    A line cut off by truncation gets a very low score rather than none.
    """
    logits = np.full(n_lines, TRUNCATED_LOGIT, dtype=np.float64)
    for i in range(n_lines):
        mine = token_logit[line_of == i]
        if len(mine):
            top = float(mine.max())
            logits[i] = top + float(np.log(np.exp(mine - top).sum()))
    top = logits.max()
    return (logits - top - np.log(np.exp(logits - top).sum())).astype(np.float32)

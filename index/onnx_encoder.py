"""Run a transformer encoder with onnxruntime instead of torch: the same hidden states, in less time on a CPU.

On this project's 2-core machine onnxruntime's fused kernels ran all-MiniLM-L6-v2 2.4x faster than torch on one
question (7.0 -> 2.9 ms), 2x faster on a line-reader window of 256 tokens (34 -> 17 ms) and 1.5x faster on a batch
of 32 passages (1.18 -> 0.76 s), vectors within 2e-7 (``scripts/measure_onnx.py``). Questions, passages at index
time and the line reader go through it when the model runs on the CPU (setting ``CITEBOT_ONNX``).

Why hand-written: optimum-onnx, the library that exports models for onnxruntime, pins transformers below 5;
torch's own exporter and onnxruntime (which chromadb installs anyway) do it in a few lines. The model is exported
when it loads (about a second; kept in a cache folder so that later processes skip it), traced with eager
attention (tracing the SDPA path gave a graph that ignores the padding mask), and checked against torch on a
padded probe batch before it is used: a model that does not export, or exports to different numbers, stays on
torch, with one log line saying why.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import one_line

log = logging.getLogger(__name__)

OPSET = 17  # onnxruntime 1.17+ runs it; the exporter's default for torch 2.x's TorchScript path
# Largest difference from torch's hidden states accepted on the probe batch. float32 reordering gives about 2e-6
# on all-MiniLM-L6-v2 (vectors are compared after normalizing, where that is far below a rank change); a graph
# that lost the padding mask differs by about 1.
TOLERANCE = 1e-4
PROBE = (
    "How do I make a slash command show up only in my test server?",
    "Short one.",
)


class OnnxEncoder:
    """An exported encoder in an onnxruntime session: ``last_hidden_state`` for a batch of token arrays.

    Safe to call from several threads at once (an onnxruntime session is).
    """

    def __init__(self, graph: str, input_names: Sequence[str], threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads sleep instead of spinning: spinning ones took the cores from the numpy and torch
        # work between model calls (a warm ask got slower, not faster, on 2 cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.input_names = tuple(input_names)
        # A run with this hands the memory arena's unused blocks back: after a batch of 32 passages of 256 tokens
        # the arena holds about 250 MB of activations, which would otherwise stay with the process (questions,
        # one at a time, need a few MB).
        self._release = ort.RunOptions()
        self._release.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def __call__(self, inputs: Mapping[str, Any], release: bool = False) -> np.ndarray:
        """The last hidden state (batch x tokens x width, float32) for token arrays (numpy or torch); with
        ``release``, the memory the run used is freed after it (for the last of a series of large batches)."""
        feeds = {name: np.asarray(inputs[name], dtype=np.int64) for name in self.input_names}
        hidden = self._session.run(None, feeds, self._release if release else None)[0]
        return np.asarray(hidden, dtype=np.float32)


# How far an exported encoder's output is from torch's: the largest absolute difference on the probe.
Difference = Callable[[OnnxEncoder], float]


def compile_encoder(
    model: Any, tokenizer: Any, threads: int, max_length: int = 256, cache: Path | None = None,
    difference: Difference | None = None,
) -> OnnxEncoder | None:
    """``model`` (a transformers encoder in eval mode) exported and checked, or None where it stays on torch.

    The check is ``difference`` within ``TOLERANCE``: by default the hidden states of the real tokens of the
    padded ``PROBE`` batch against torch's; a caller that turns them into something else (the embedder pools
    and normalizes them) passes its own, so the probe runs once on each runtime. With ``cache``, the exported
    graph is kept there under a key of the weights and the versions that made it (``cache_key``), so a later
    process skips the export (about a second a model) and only checks it.
    """
    try:
        probe = dict(tokenizer(list(PROBE), padding=True, truncation=True, max_length=max_length,
                               return_tensors="pt"))
        names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in probe]
        differ = difference or _hidden_difference(model, probe)
        kept = cache / f"{cache_key(model, names)}.onnx" if cache is not None else None
        if kept is not None and kept.is_file():
            encoder = _cached(kept, names, threads, differ)
            if encoder is not None:
                return encoder
            kept.unlink(missing_ok=True)  # a damaged or foreign file: exported afresh below
        with tempfile.TemporaryDirectory(prefix="citebot-onnx-") as folder:
            graph = Path(folder) / "model.onnx"
            _export(model, probe, names, graph)
            encoder = _checked(OnnxEncoder(str(graph), names, threads), differ)
            if encoder is not None and kept is not None:
                _keep(graph, kept)
        return encoder
    except Exception as exc:  # noqa: BLE001 - any failure to export or run leaves the model on torch, as before
        log.info("model stays on torch: its onnx export failed: %s", one_line(exc))
        return None


def cache_key(model: Any, names: Sequence[str]) -> str:
    """What an exported graph depends on: the weights (hashed in 0.1 s for the bundled model), the inputs, the
    exporter's opset and the versions of torch and onnx that wrote it."""
    import onnx
    import torch

    digest = hashlib.sha256(f"{type(model).__name__}|{','.join(names)}|{OPSET}|{torch.__version__}|"
                            f"{onnx.__version__}".encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()[:32]


def _cached(kept: Path, names: Sequence[str], threads: int, differ: Difference) -> OnnxEncoder | None:
    """The cached graph, if onnxruntime reads it and it gives torch's numbers."""
    try:
        encoder = _checked(OnnxEncoder(str(kept), names, threads), differ)
    except Exception as exc:  # noqa: BLE001 - whatever is wrong with the file, exporting again replaces it
        log.info("the exported model in the cache is unreadable (%s); exporting it again", one_line(exc))
        return None
    if encoder is None:
        log.info("the exported model in the cache does not give torch's numbers; exporting it again")
    return encoder


def _hidden_difference(model: Any, probe: Mapping[str, Any]) -> Difference:
    """The default check: hidden states of the probe's real tokens (padding positions are never read)."""
    expected = _torch_hidden(model, probe)
    mask = probe["attention_mask"].numpy().astype(bool)

    def difference(encoder: OnnxEncoder) -> float:
        got = encoder(probe)
        return float(np.abs(got[mask] - expected[mask]).max()) if got.shape == expected.shape else float("inf")

    return difference


def _checked(encoder: OnnxEncoder, differ: Difference) -> OnnxEncoder | None:
    diff = differ(encoder)
    if not diff <= TOLERANCE:
        log.info("model stays on torch: its onnx export differs from torch by %.2g", diff)
        return None
    return encoder


def _keep(graph: Path, kept: Path) -> None:
    """Copy the graph into the cache under its final name in one step (a reader never sees half a file);
    a cache that cannot be written only costs the next process the export."""
    partial = kept.with_name(f".{kept.name}.{os.getpid()}.partial")
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(graph, partial)
        os.replace(partial, kept)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        log.info("exported model not cached: %s", one_line(exc))


def _torch_hidden(model: Any, inputs: Mapping[str, Any]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return model(**inputs).last_hidden_state.float().numpy()


def _export(model: Any, probe: Mapping[str, Any], names: Sequence[str], path: Path) -> None:
    import torch

    class Positional(torch.nn.Module):
        """The encoder called with its token arrays by position, as the exporter traces it, returning one tensor."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.model = inner

        def forward(self, *arrays: Any) -> Any:
            return self.model(**dict(zip(names, arrays))).last_hidden_state

    # A copy is traced: tracing leaves the module it ran through computing different numbers afterwards (seen
    # with transformers 5.25: hidden states off by about 1), and the original may still be needed on torch.
    traced = copy.deepcopy(model)
    if getattr(traced.config, "_attn_implementation", None) not in (None, "eager"):
        traced.set_attn_implementation("eager")
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "hidden"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on Python control flow it records as constants
        torch.onnx.export(Positional(traced), tuple(probe[name] for name in names), str(path),
                          input_names=list(names), output_names=["hidden"], dynamic_axes=axes,
                          opset_version=OPSET, dynamo=False)

"""The bundled model on torch and on onnxruntime, side by side in one process (the machine is noisy: compare ratios).

    python scripts/measure_onnx.py [--repeat 30]

Prints (JSON) the median milliseconds of one question (17 tokens), of one line-reader window (256 tokens) and of
one batch of 32 passages of 256 tokens, for each runtime, and the largest difference between their vectors:
what ``index/onnx_encoder.py``'s figures come from. The warm ask as a whole: ``scripts/measure_latency.py`` with
``CITEBOT_ONNX=true`` and ``false``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from citebot.index import configure_process  # noqa: E402

QUESTION = "How do I make a slash command show up only in my test server?"


def median_ms(call: Callable[[], object], repeat: int) -> float:
    call()  # the first call of each shape pays for allocations
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - started))
    return round(statistics.median(times), 2)


def main() -> None:
    configure_process()
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    import torch

    from citebot.index.embedder import SentenceTransformerEmbedder
    from citebot.index.onnx_encoder import compile_encoder

    torch_side = SentenceTransformerEmbedder(onnx=False)
    onnx_side = SentenceTransformerEmbedder(onnx=True)
    model = torch_side._load()
    onnx_side._load()
    encoder = compile_encoder(model[0].auto_model, model.tokenizer, torch.get_num_threads())
    assert encoder is not None and onnx_side.runtime == "onnxruntime", "the bundled model did not export"
    words = " ".join(["the quick brown fox jumps over the lazy dog"] * 40)
    window = {k: np.asarray(v) for k, v in model.tokenizer(QUESTION, words, truncation="only_second",
                                                             max_length=256).items()}
    window = {k: v[None, :] for k, v in window.items()}
    passages = [words] * 32
    out: dict[str, object] = {"threads": torch.get_num_threads()}
    for name, side in (("torch", torch_side), ("onnxruntime", onnx_side)):
        out[f"{name} question ms"] = median_ms(lambda s=side: s.embed_queries([QUESTION]), args.repeat)
        out[f"{name} batch of 32 ms"] = median_ms(lambda s=side: s.embed_queries(passages), max(3, args.repeat // 10))
    inner = model[0].auto_model
    with torch.inference_mode():
        tensors = {k: torch.from_numpy(v) for k, v in window.items()}
        out["torch window ms"] = median_ms(lambda: inner(**tensors), args.repeat)
    out["onnxruntime window ms"] = median_ms(lambda: encoder(window), args.repeat)
    texts = [QUESTION, words, "Short one."]
    out["largest vector difference"] = float(np.abs(torch_side.embed_queries(texts)
                                                    - onnx_side.embed_queries(texts)).max())
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

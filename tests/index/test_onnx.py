"""The models on onnxruntime (``index/onnx_encoder.py``): torch's numbers, and torch whenever the export fails."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citebot.index import Engine, Settings, onnx_encoder
from citebot.index.embedder import SentenceTransformerEmbedder, bundled_model_path
from citebot.index.reader import LineReader

TEXTS = [
    "Models are defined by inheriting from BaseModel.\nFields are class attributes with type hints.",
    "Short one.",
    "# Intents\n\nThe members intent is privileged: turn it on in the developer portal\nbefore you ask for it.",
]


def spans(text: str) -> list[tuple[int, int]]:
    out, start = [], 0
    for line in text.split("\n"):
        out.append((start, start + len(line)))
        start += len(line) + 1
    return out


@pytest.fixture(scope="module")
def both() -> tuple[SentenceTransformerEmbedder, SentenceTransformerEmbedder]:
    return SentenceTransformerEmbedder(onnx=True), SentenceTransformerEmbedder(onnx=False)


@pytest.mark.slow
def test_passages_and_their_lines_get_torchs_vectors(
    both: tuple[SentenceTransformerEmbedder, SentenceTransformerEmbedder]
) -> None:
    fast, plain = both
    vectors, lines = fast.embed_passages(TEXTS, [spans(t) for t in TEXTS])
    assert fast.runtime == "onnxruntime" and plain.runtime == "torch"
    want, want_lines = plain.embed_passages(TEXTS, [spans(t) for t in TEXTS])
    np.testing.assert_allclose(vectors, want, atol=1e-5)
    for got, expected in zip(lines, want_lines, strict=True):
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(fast.embed_queries(TEXTS), plain.embed_queries(TEXTS), atol=1e-5)


@pytest.mark.slow
def test_a_batch_mixing_lengths_is_padded_as_on_torch(
    both: tuple[SentenceTransformerEmbedder, SentenceTransformerEmbedder]
) -> None:
    """Padding is what a wrongly traced graph gets wrong (it ignored the mask): one text alone and inside a
    batch of much longer ones must get the same vector."""
    fast, _ = both
    alone = fast.embed_queries(["Short one."])
    padded = fast.embed_queries(["Short one.", " ".join(["a much longer passage"] * 60)])
    np.testing.assert_allclose(padded[0], alone[0], atol=1e-5)


@pytest.mark.slow
def test_the_line_reader_reads_as_on_torch() -> None:
    fast, plain = LineReader(bundled_model_path(), onnx=True), LineReader(bundled_model_path(), onnx=False)
    lines = ["The bridge was opened in 1904.", "It was designed by Ada Okonkwo.", "Its deck is larch."]
    got = fast.read("Who designed the bridge?", lines)
    assert fast._encoder is not None and plain._encoder is None
    np.testing.assert_allclose(got, plain.read("Who designed the bridge?", lines), atol=1e-4)
    assert int(np.argmax(got)) == 1


@pytest.mark.slow
def test_a_model_that_will_not_export_stays_on_torch(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*args: object) -> None:
        raise RuntimeError("Exporting the operator 'aten::something' is not supported\nmore detail")

    monkeypatch.setattr(onnx_encoder, "_export", refuse)
    embedder = SentenceTransformerEmbedder(onnx=True)
    with caplog.at_level("INFO", logger="citebot.index.onnx_encoder"):
        vectors = embedder.embed_queries(TEXTS)
    assert embedder.runtime == "torch"
    assert "stays on torch: its onnx export failed: RuntimeError: Exporting the operator" in caplog.text
    assert "more detail" not in caplog.text
    np.testing.assert_allclose(vectors, SentenceTransformerEmbedder(onnx=False).embed_queries(TEXTS), atol=1e-5)


@pytest.mark.slow
def test_an_export_that_computes_other_numbers_is_not_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = onnx_encoder.OnnxEncoder.__call__

    def off_by_a_little(self: onnx_encoder.OnnxEncoder, inputs: object, release: bool = False) -> np.ndarray:
        return real(self, inputs, release) + 1e-3  # type: ignore[arg-type]

    monkeypatch.setattr(onnx_encoder.OnnxEncoder, "__call__", off_by_a_little)
    embedder = SentenceTransformerEmbedder(onnx=True)
    with caplog.at_level("INFO", logger="citebot.index.onnx_encoder"):
        embedder.embed_queries(["anything"])
    assert embedder.runtime == "torch"
    assert "its onnx export differs from torch by 0.001" in caplog.text


def test_the_setting_turns_it_off(tmp_path: Path) -> None:
    on = Engine(Settings(db_path=tmp_path / "a", _env_file=None))  # type: ignore[call-arg]
    off = Engine(Settings(db_path=tmp_path / "b", onnx=False, _env_file=None))  # type: ignore[call-arg]
    gpu = SentenceTransformerEmbedder(device="cuda", onnx=True)
    assert isinstance(on.embedder, SentenceTransformerEmbedder)
    assert isinstance(off.embedder, SentenceTransformerEmbedder)
    assert on.embedder._onnx and not off.embedder._onnx and not gpu._onnx  # nothing is loaded until first use
    assert on.searcher.reader is not None and on.searcher.reader._onnx
    assert off.searcher.reader is not None and not off.searcher.reader._onnx

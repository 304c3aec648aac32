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


@pytest.mark.slow
def test_a_later_load_takes_the_cached_export_and_a_damaged_one_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first = SentenceTransformerEmbedder(onnx=True, onnx_cache=tmp_path / "cache")
    want = first.embed_queries(TEXTS)
    kept = list((tmp_path / "cache").glob("*.onnx"))
    assert first.runtime == "onnxruntime" and len(kept) == 1
    assert not list((tmp_path / "cache").glob(".*partial"))

    real_export = onnx_encoder._export
    calls: list[object] = []

    def counted(*args: object) -> None:
        calls.append(args)
        real_export(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(onnx_encoder, "_export", counted)
    second = SentenceTransformerEmbedder(onnx=True, onnx_cache=tmp_path / "cache")
    np.testing.assert_allclose(second.embed_queries(TEXTS), want, atol=1e-6)
    assert second.runtime == "onnxruntime" and calls == []  # read from the cache, not exported

    kept[0].write_bytes(b"not a graph")
    with caplog.at_level("INFO", logger="citebot.index.onnx_encoder"):
        third = SentenceTransformerEmbedder(onnx=True, onnx_cache=tmp_path / "cache")
        np.testing.assert_allclose(third.embed_queries(TEXTS), want, atol=1e-6)
    assert third.runtime == "onnxruntime" and len(calls) == 1
    assert "the exported model in the cache is unreadable" in caplog.text
    assert kept[0].stat().st_size > 1_000_000  # replaced by a good export


@pytest.mark.slow
def test_a_cache_that_cannot_be_written_only_costs_the_export(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with caplog.at_level("INFO", logger="citebot.index.onnx_encoder"):
        embedder = SentenceTransformerEmbedder(onnx=True, onnx_cache=blocked / "onnx")
        embedder.embed_queries(["anything"])
    assert embedder.runtime == "onnxruntime"
    assert "exported model not cached" in caplog.text


def test_the_cache_folder_defaults_to_the_users_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CITEBOT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Settings(_env_file=None).onnx_cache() == tmp_path / "xdg" / "citebot" / "onnx"  # type: ignore[call-arg]
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Settings(_env_file=None).onnx_cache() == tmp_path / "home" / ".cache" / "citebot" / "onnx"  # type: ignore[call-arg]
    explicit = Settings(cache_dir=tmp_path / "mine", _env_file=None)  # type: ignore[call-arg]
    assert explicit.onnx_cache() == tmp_path / "mine" / "onnx"


def test_the_setting_turns_it_off(tmp_path: Path) -> None:
    on = Engine(Settings(db_path=tmp_path / "a", _env_file=None))  # type: ignore[call-arg]
    off = Engine(Settings(db_path=tmp_path / "b", onnx=False, _env_file=None))  # type: ignore[call-arg]
    gpu = SentenceTransformerEmbedder(device="cuda", onnx=True)
    assert isinstance(on.embedder, SentenceTransformerEmbedder)
    assert isinstance(off.embedder, SentenceTransformerEmbedder)
    assert on.embedder._onnx and not off.embedder._onnx and not gpu._onnx  # nothing is loaded until first use
    assert on.searcher.reader is not None and on.searcher.reader._onnx
    assert off.searcher.reader is not None and not off.searcher.reader._onnx

"""The real embedder's token counts, which the chunker sizes every chunk by: exact, and never truncated."""

from __future__ import annotations

import pytest

from citebot.index.embedder import SentenceTransformerEmbedder

TEXTS = [
    "", "word", "  indented `code` line  ", "Ünïcödé — “quotes” and emoji 🎉", "[CLS] a literal special token [SEP]",
    "def f(x: int) -> dict[str, list[int]]:  # a comment", "tab\tand\nnewline",
]


@pytest.mark.slow
def test_counts_match_the_tokenizer_and_ignore_the_embedding_window() -> None:
    embedder = SentenceTransformerEmbedder()
    long = "pydantic validates data " * 200  # far past the 256-token window and tokenizer.json's padding to 128
    # An embedding call leaves truncation to the window set on the model's tokenizer: counting must not see it.
    embedder.embed_passages([long], [[(0, len(long))]])
    texts = [*TEXTS, long]
    tokenizer = embedder._load().tokenizer
    expected = [len(ids) for ids in tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]]
    assert embedder.count_tokens(texts) == expected
    assert expected[-1] > 800 and expected[0] == 0
    assert embedder.count_tokens([]) == []

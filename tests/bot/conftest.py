"""Fixtures for the bot tests: a corpus of our own in tmp_path and an engine that has indexed it (hash model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bot_harness import CORPUS, write_corpus

from citebot.index import Engine, Settings


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "docs", CORPUS)


@pytest.fixture
def index_settings(tmp_path: Path, corpus: Path) -> Settings:
    # The hash embedder's answers score a low answerability: with the bundled model's caution threshold every
    # answer would be tentative, so these tests see plain answers (test_bot_render checks the tentative one).
    return Settings(db_path=tmp_path / "db", docs_dir=corpus, model="hash", sure_relevance=0.0, _env_file=None)


@pytest.fixture
def engine(index_settings: Settings) -> Engine:
    """An engine over the corpus, already indexed."""
    eng = Engine(index_settings)
    eng.index()
    return eng

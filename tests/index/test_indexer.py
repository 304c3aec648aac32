"""Incremental indexing: only what changed is embedded, what disappeared is removed, nothing else is touched."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from citebot.index import Engine, HashEmbedder, IndexBusy, Settings, UsageError, state
from citebot.index.embedder import SentenceTransformerEmbedder
from citebot.index.state import DIRTY

from .helpers import REAL_MODEL, SpyEmbedder, chunk_lines_by_source, committed, hash_settings, write_files

CORPUS = {
    "cranes.md": "# Cranes\n\nThe harbour cranes lift containers from the ships.\nEach crane has a cabin.\n",
    "bread.txt": "Sourdough needs a starter fed with flour and water.\nBake it in a hot oven.\n",
    "notes/trains.txt": "The night train leaves at ten.\nSleeper cabins have four berths.\n",
}


def _engine(settings: Settings, **kwargs: object) -> tuple[Engine, SpyEmbedder]:
    spy = SpyEmbedder(**kwargs)  # type: ignore[arg-type]
    return Engine(settings, spy), spy


def test_first_run_indexes_everything(settings: Settings) -> None:
    write_files(settings.docs_dir, CORPUS)
    engine, spy = _engine(settings)
    report = engine.index()
    assert (report.added, report.updated, report.removed, report.unchanged) == (3, 0, 0, 0)
    assert report.chunks == report.embedded == len(spy.passages) == engine.store.count() > 0
    assert report.generation == 1
    stats = engine.stats()
    assert (stats.files, stats.chunks, stats.generation, stats.model) == (3, report.chunks, 1, spy.name)
    assert stats.root == str(settings.docs_dir.resolve())
    assert "3 added, 0 updated, 0 removed, 0 unchanged, 0 skipped" in report.summary()


def test_unchanged_rerun_embeds_nothing_and_keeps_the_generation(settings: Settings) -> None:
    write_files(settings.docs_dir, CORPUS)
    Engine(settings, SpyEmbedder()).index()
    engine, spy = _engine(settings)
    report = engine.index()
    assert (report.unchanged, report.embedded, report.generation) == (3, 0, 1)
    assert spy.batches == [] and spy.queries == 0


def test_unchanged_rerun_loads_no_model(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """An index built with the bundled model's name: a re-run with the real embedder must not load it."""
    write_files(settings.docs_dir, CORPUS)
    Engine(settings.model_copy(update={"model": ""}), SpyEmbedder(name=REAL_MODEL)).index()

    def no_loading(self: SentenceTransformerEmbedder) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(SentenceTransformerEmbedder, "_load", no_loading)
    engine = Engine(settings.model_copy(update={"model": ""}))
    assert isinstance(engine.embedder, SentenceTransformerEmbedder)
    report = engine.index()
    assert (report.unchanged, report.embedded) == (3, 0)
    assert engine.stats().model == REAL_MODEL


def test_changing_one_file_re_embeds_only_that_file(settings: Settings) -> None:
    write_files(settings.docs_dir, CORPUS)
    Engine(settings, SpyEmbedder()).index()
    (settings.docs_dir / "bread.txt").write_text("Rye bread needs no starter at all.\nIt is dense and dark.\n")
    engine, spy = _engine(settings)
    report = engine.index()
    assert (report.updated, report.unchanged, report.added, report.removed) == (1, 2, 0, 0)
    assert spy.passages and all("Rye bread" in text for text in spy.passages)
    assert report.embedded == len(spy.passages)
    assert chunk_lines_by_source(engine)["bread.txt"] == ["Rye bread needs no starter at all.", "It is dense and dark."]
    hit = engine.ask("rye bread starter", k=1).hits[0]
    assert (hit.source, hit.line) == ("bread.txt", 1)
    assert engine.store.count() == report.chunks, "the old chunks of bread.txt are gone from Chroma"


def test_deleting_a_file_removes_its_chunks_from_chroma_and_answers(settings: Settings) -> None:
    write_files(settings.docs_dir, CORPUS)
    engine, _ = _engine(settings)
    engine.index()
    before = {c.id for c in engine.store.get(engine.store.all_ids()) if c.source == "notes/trains.txt"}
    assert before and engine.ask("night train sleeper cabins berths", k=1).hits[0].source == "notes/trains.txt"
    (settings.docs_dir / "notes" / "trains.txt").unlink()
    report = engine.index()
    assert (report.removed, report.embedded) == (1, 0)
    assert before.isdisjoint(engine.store.all_ids())
    assert set(engine.store.all_ids()) == set(committed(settings).chunk_ids())
    assert all(h.source != "notes/trains.txt" for h in engine.ask("night train sleeper cabins berths").hits)


def test_renamed_file_reuses_stored_vectors(settings: Settings) -> None:
    write_files(settings.docs_dir, CORPUS)
    Engine(settings, SpyEmbedder()).index()
    (settings.docs_dir / "bread.txt").rename(settings.docs_dir / "baking.txt")
    engine, spy = _engine(settings)
    report = engine.index()
    assert (report.added, report.removed, report.embedded) == (1, 1, 0)
    assert report.reused > 0 and spy.batches == []
    assert engine.ask("sourdough starter flour water", k=1).hits[0].source == "baking.txt"


def test_changing_chunking_settings_rebuilds_everything(settings: Settings) -> None:
    write_files(settings.docs_dir, CORPUS)
    Engine(settings, SpyEmbedder()).index()
    engine, spy = _engine(settings.model_copy(update={"overlap_lines": 0}))
    report = engine.index()
    assert report.updated == 3 and report.generation == 2
    assert set(engine.store.all_ids()) == set(committed(settings).chunk_ids())


def test_identical_pieces_of_one_long_line_are_stored_once(settings: Settings) -> None:
    """A line of one phrase repeated (generated files do this) cut into identical pieces used to give
    Chroma duplicate ids in one upsert and abort the run."""
    write_files(settings.docs_dir, {"repeat.txt": "ping pong " * 20_000 + "\n", "ok.txt": "fine\n"})
    engine, _ = _engine(settings)
    report = engine.index()
    assert report.added == 2
    texts = [c.text for c in engine.store.get(engine.store.all_ids()) if c.source == "repeat.txt"]
    assert len(texts) == len(set(texts)) >= 1
    hit = engine.ask("ping pong", k=1).hits[0]
    assert (hit.source, hit.line) == ("repeat.txt", 1)


def test_missing_or_wrong_folder_is_a_usage_error(settings: Settings) -> None:
    engine, _ = _engine(settings)
    with pytest.raises(UsageError, match="no such folder"):
        engine.index(settings.docs_dir / "nope")
    (settings.docs_dir / "file.txt").write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        engine.index(settings.docs_dir / "file.txt")


def test_second_writer_is_refused_then_waits(settings: Settings) -> None:
    write_files(settings.docs_dir, CORPUS)
    engine, _ = _engine(settings)
    state_dir = settings.resolved_state_dir()
    with state.writer_lock(state_dir):
        with pytest.raises(IndexBusy, match=r"another re-index is running \(pid \d+\)") as err:
            engine.index()
        assert "\n" not in str(err.value)
    holding = threading.Event()

    def hold() -> None:
        with state.writer_lock(state_dir):
            holding.set()
            time.sleep(0.6)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    started = time.monotonic()
    report = engine.index(wait=10)
    holder.join(10)
    assert report.added == 3 and time.monotonic() - started >= 0.3


def test_asking_with_another_model_than_the_index_is_refused(settings: Settings) -> None:
    write_files(settings.docs_dir, CORPUS)
    Engine(settings, HashEmbedder()).index()
    other = Engine(settings, HashEmbedder(dim=128))
    with pytest.raises(UsageError, match="was built with the model 'hash-256', not 'hash-128'"):
        other.ask("cranes")
    with pytest.raises(UsageError, match="holds 256-dimension vectors but the embedding model makes 128"):
        other.index()
    assert Engine(settings, HashEmbedder()).ask("harbour cranes containers").hits, "the index is intact"


def test_manifest_mtime_always_moves_forward(tmp_path: Path) -> None:
    """Readers notice a commit by the manifest's mtime, even if the clock is behind the last commit."""
    state.save(tmp_path, state.Manifest(generation=1))
    future = time.time_ns() + 3_600 * 10**9
    import os

    os.utime(tmp_path / state.MANIFEST, ns=(future, future))
    before = state.mtime(tmp_path)
    state.save(tmp_path, state.Manifest(generation=2))
    assert state.mtime(tmp_path) > before
    stamp = state.mtime(tmp_path)
    state.touch(tmp_path)
    assert state.mtime(tmp_path) > stamp
    assert committed_generation(tmp_path) == 2


def committed_generation(state_dir: Path) -> int:
    manifest = state.load(state_dir)
    return manifest.generation if manifest else 0


def test_successful_run_leaves_no_dirty_marker_or_old_keyword_indexes(settings: Settings) -> None:
    write_files(settings.docs_dir, CORPUS)
    engine, _ = _engine(settings)
    for i in range(4):
        (settings.docs_dir / "bread.txt").write_text(f"Version {i} of the bread notes.\n")
        engine.index()
    state_dir = settings.resolved_state_dir()
    assert not (state_dir / DIRTY).exists()
    assert sorted(p.name for p in state_dir.glob("keyword-*")) == ["keyword-3", "keyword-4"]  # the last two generations


def test_chunks_lost_from_chroma_are_indexed_again(settings: Settings) -> None:
    """The sidecar says a file is indexed but Chroma lost its chunks (an older backup restored): re-index it."""
    write_files(settings.docs_dir, CORPUS)
    engine, _ = _engine(settings)
    engine.index()
    lost = committed(settings).files["bread.txt"].chunks
    engine.store.delete(lost)
    assert all(h.source != "bread.txt" for h in engine.ask("sourdough starter flour water").hits)
    spy = SpyEmbedder()
    report = Engine(settings, spy).index()
    assert (report.updated, report.unchanged, report.embedded) == (1, 2, len(lost))
    assert report.warnings == [
        f"{len(lost)} indexed chunk(s) of 1 file(s) were missing from {settings.db_path}; indexing those files again"
    ]
    assert set(engine.store.all_ids()) == set(committed(settings).chunk_ids())
    assert engine.ask("sourdough starter flour water", 1).hits[0].source == "bread.txt"
    assert Engine(settings, SpyEmbedder()).index().warnings == []


def test_new_chunks_are_stored_in_upserts_that_grow_from_one_round(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Few Chroma upserts (each costs ~0.1 s of its own), small ones first (a failure early loses little)."""
    from citebot.index import indexer
    from citebot.index.store import Store

    settings = hash_settings(tmp_path, chunk_tokens=32, batch_size=1)  # a round: EMBED_BATCHES_PER_ROUND chunks
    logs = {f"f{i}.txt": "".join(f"Entry {i}-{k}: the harbour log notes tide mark {k * i}.\n\n" for k in range(12))
            for i in range(6)}  # distinct lines (repeats are embedded once), each paragraph a chunk of its own
    write_files(settings.docs_dir, logs)
    monkeypatch.setattr(indexer, "UPSERT_MAX_CHUNKS", 16)
    sizes: list[int] = []
    upsert = Store.upsert
    monkeypatch.setattr(Store, "upsert", lambda self, chunks: (sizes.append(len(chunks)), upsert(self, chunks)))
    report = Engine(settings).index()
    stored = [n for n in sizes if n]
    assert sum(stored) == report.embedded == report.chunks > 28  # past the third upsert
    round_size = indexer.EMBED_BATCHES_PER_ROUND
    assert stored[:3] == [round_size, 2 * round_size, 16] and all(n <= 16 for n in stored)
    assert Engine(settings).store.count() == report.chunks

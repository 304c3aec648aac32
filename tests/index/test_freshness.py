"""One commit tracker per reader (state.CommitWatch): new commits are seen on the next look, an unchanged
manifest is not read again, and the checks hung on it run once per commit."""

from __future__ import annotations

from pathlib import Path

import pytest

from citebot.index import Engine, HashEmbedder, Settings, UsageError, state

from .helpers import SpyEmbedder, write_files

CORPUS = {
    "cranes.md": "# Cranes\n\nThe harbour cranes lift containers from the ships.\nEach crane has a cabin.\n",
    "bread.txt": "Sourdough needs a starter fed with flour and water.\nBake it in a hot oven.\n",
}
NEW_FILE = {"ferry.txt": "The island ferry sails at noon on Sundays.\nIt carries forty cars.\n"}


def _count_loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every manifest read from disk."""
    loads: list[Path] = []
    real_load = state.load

    def counting_load(state_dir: Path) -> state.Manifest | None:
        loads.append(state_dir)
        return real_load(state_dir)

    monkeypatch.setattr(state, "load", counting_load)
    return loads


def test_a_commit_from_a_second_engine_is_seen_on_the_next_ask(settings: Settings) -> None:
    write_files(settings.docs_dir, CORPUS)
    reader = Engine(settings, SpyEmbedder())
    reader.index()
    assert all(h.source != "ferry.txt" for h in reader.ask("island ferry noon Sundays").hits)
    write_files(settings.docs_dir, NEW_FILE)
    assert Engine(settings, SpyEmbedder()).index().added == 1
    hits = reader.ask("island ferry noon Sundays", k=1).hits
    assert hits and (hits[0].source, hits[0].line) == ("ferry.txt", 1)


def test_an_unchanged_manifest_is_read_once_however_often_it_is_asked(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(settings.docs_dir, CORPUS)
    Engine(settings, SpyEmbedder()).index()
    loads = _count_loads(monkeypatch)
    engine = Engine(settings, SpyEmbedder())
    for _ in range(3):
        assert engine.ask("harbour cranes containers").hits
    assert len(loads) == 1, "the Engine's checks and the Searcher share one read of the manifest"
    write_files(settings.docs_dir, NEW_FILE)
    engine.index()  # the run reads the manifest it replaces: one more read
    assert len(loads) == 2
    for _ in range(3):
        assert engine.ask("island ferry noon Sundays").hits
    assert len(loads) == 3, "the new commit is read once"


def test_the_watch_reads_again_only_when_the_manifest_moved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    watch = state.CommitWatch(tmp_path)
    assert watch.latest().manifest is None, "before the first commit"
    state.save(tmp_path, state.Manifest(generation=1))
    loads = _count_loads(monkeypatch)
    first = watch.latest()
    assert first.manifest is not None and first.manifest.generation == 1
    assert watch.latest() is first and watch.stamp() == first.stamp
    assert len(loads) == 1
    state.save(tmp_path, state.Manifest(generation=2))
    assert watch.stamp() != first.stamp, "a commit moves the stamp"
    second = watch.latest()
    assert second.manifest is not None and second.manifest.generation == 2 and len(loads) == 2


def test_a_failing_check_keeps_the_commit_unseen(tmp_path: Path) -> None:
    """A commit a check refuses (an index of another model) is refused on every look, not only the first."""
    state.save(tmp_path, state.Manifest(generation=1, model="other"))
    watch = state.CommitWatch(tmp_path)
    seen: list[int] = []

    def refuse_other_models(manifest: state.Manifest | None) -> None:
        assert manifest is not None
        seen.append(manifest.generation)
        if manifest.model == "other":
            raise UsageError("built with another model")

    watch.on_commit(refuse_other_models)
    for _ in range(2):
        with pytest.raises(UsageError):
            watch.latest()
    state.save(tmp_path, state.Manifest(generation=2, model="mine"))
    assert watch.latest().manifest.generation == 2  # type: ignore[union-attr]
    watch.latest()
    assert seen == [1, 1, 2], "checks run once per accepted commit"


def test_another_processs_commit_reopens_the_store_once(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(settings.docs_dir, CORPUS)
    engine = Engine(settings, HashEmbedder())
    engine.index()
    reopened: list[int] = []
    real_reopen = engine.store.reopen
    monkeypatch.setattr(engine.store, "reopen", lambda: (reopened.append(1), real_reopen())[1])
    engine.ask("harbour cranes")
    assert reopened == [], "this process's own commit: its store is up to date"
    manifest = state.load(settings.resolved_state_dir())
    assert manifest is not None
    manifest.writer = "another-process"
    state.save(settings.resolved_state_dir(), manifest)
    for _ in range(3):
        assert engine.ask("harbour cranes containers").hits
    assert reopened == [1]

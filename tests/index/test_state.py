"""The state folder's layout, decided in state.py: which keyword folders a commit leaves behind, the dirty marker."""

from __future__ import annotations

from pathlib import Path

from citebot.index import state


def test_a_commit_keeps_its_own_keyword_index_and_the_one_before(tmp_path: Path) -> None:
    for name in ["keyword-1", "keyword-2", "keyword-3", "keyword-4", "keyword-2.tmp", "keyword-4.tmp", "keyword-x"]:
        (tmp_path / name).mkdir()
    (tmp_path / state.MANIFEST).write_text("{}")
    old = sorted(p.name for p in state.old_keyword_dirs(tmp_path, 4))
    # An unfinished folder of a kept generation goes when that generation's own folder does.
    assert old == ["keyword-1", "keyword-2", "keyword-2.tmp", "keyword-x"]
    assert state.keyword_dir(tmp_path, 4) not in state.old_keyword_dirs(tmp_path, 4)


def test_dirty_marker_round_trip(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    assert not state.is_dirty(folder)
    state.mark_dirty(folder)
    assert state.is_dirty(folder) and (folder / state.DIRTY).exists()
    state.clear_dirty(folder)
    state.clear_dirty(folder)  # clearing twice is harmless
    assert not state.is_dirty(folder)

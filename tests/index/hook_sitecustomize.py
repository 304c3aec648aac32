"""Installed as ``sitecustomize`` (via PYTHONPATH) in a ``citebot`` subprocess to stall it at a chosen point of
a re-index, so that a test can kill it there or run something beside it. No hook exists in the index code.

TESTHOOK_POINT: "upsert" (after the 2nd batch of new chunks reached Chroma, before the commit) or "commit"
(right after the new manifest was committed, before stale chunks are deleted). TESTHOOK_MARKER: a file
created when the point is reached. TESTHOOK_STALL: seconds to stall there (default 120).
"""

import os

_point = os.environ.get("TESTHOOK_POINT")
if _point:
    import time
    from pathlib import Path

    def _stall() -> None:
        Path(os.environ["TESTHOOK_MARKER"]).write_text(str(os.getpid()))
        time.sleep(float(os.environ.get("TESTHOOK_STALL", "120")))

    if _point == "upsert":
        from citebot.index import store as _store

        _upsert = _store.Store.upsert
        _batches = [0]

        def _stalling_upsert(self, chunks):  # type: ignore[no-untyped-def]
            _upsert(self, chunks)
            if chunks:
                _batches[0] += 1
                if _batches[0] == 2:
                    _stall()

        _store.Store.upsert = _stalling_upsert  # type: ignore[method-assign]
    elif _point == "commit":
        from citebot.index import state as _state

        _save = _state.save

        def _stalling_save(state_dir, manifest):  # type: ignore[no-untyped-def]
            _save(state_dir, manifest)
            _stall()

        _state.save = _stalling_save

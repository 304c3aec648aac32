"""Installed as ``sitecustomize`` (via PYTHONPATH) in a ``citebot`` subprocess to stall it at a chosen point of
a re-index, so that a test can kill it there or run something beside it. No hook exists in the index code.

TESTHOOK_POINT: "upsert" (after the 2nd batch of new chunks reached Chroma, before the commit), "commit"
(right after the new manifest was committed, before stale chunks are deleted) or "lock-busy" (the first time
the writer lock is found taken; no stall there: the run goes on waiting for the lock as it would).
TESTHOOK_MARKER: a file created when the point is reached. The run then stalls until the file TESTHOOK_RELEASE
exists, or TESTHOOK_STALL seconds have passed (default 120), whichever comes first: a test releases it when
it has done what it needed the stall for, rather than guessing how long that takes.
"""

import os

_point = os.environ.get("TESTHOOK_POINT")
if _point:
    import faulthandler
    import signal
    import time
    from pathlib import Path

    faulthandler.register(signal.SIGUSR1, all_threads=True)  # faults.finish asks where a stuck run is

    _POLL = 0.02  # seconds between looks at the release file

    def _reached() -> None:
        Path(os.environ["TESTHOOK_MARKER"]).write_text(str(os.getpid()))

    def _stall() -> None:
        _reached()
        release = os.environ.get("TESTHOOK_RELEASE")
        deadline = time.monotonic() + float(os.environ.get("TESTHOOK_STALL", "120"))
        while time.monotonic() < deadline and not (release and os.path.exists(release)):
            time.sleep(_POLL)

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
    elif _point == "lock-busy":
        import fcntl

        _flock = fcntl.flock

        def _watching_flock(fd, operation):  # type: ignore[no-untyped-def]
            try:
                return _flock(fd, operation)
            except BlockingIOError:
                if not os.path.exists(os.environ["TESTHOOK_MARKER"]):
                    _reached()
                raise

        fcntl.flock = _watching_flock

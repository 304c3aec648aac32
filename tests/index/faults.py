"""Shared by the fault-injection tests: two versions of a corpus, and ``citebot`` processes stalled on purpose.

``hook_sitecustomize.py`` is installed as ``sitecustomize`` (through PYTHONPATH) in a real ``citebot``
subprocess to stall it at a chosen point, so that a test can kill it there or run something beside it; the
index code itself has no test hook.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from citebot.index import Settings

from .helpers import CITEBOT, clean_env, hash_settings, write_files

HOOK = Path(__file__).with_name("hook_sitecustomize.py")
STABLE = "The lighthouse keeper climbs one hundred and twelve steps every evening.\n"
QUESTIONS = [
    "lighthouse keeper steps evening",
    "glacier record drift station",
    "volcano measurements drift units",
    "old mill grinds barley",
    "bakery rye loaves dawn",
]


def records(tag: str, topic: str, n: int = 12) -> str:
    """``n`` one-line paragraphs; with 32-token chunks each becomes a chunk of its own."""
    return "\n\n".join(
        f"{tag} {topic} record {i}: {tag.lower()} measurements of the {topic} show {i * 7} units of drift "
        f"near station {i}." for i in range(n)
    ) + "\n"


V1: dict[str, str | bytes] = {
    "stable.txt": STABLE,
    "b.md": records("Alpha", "glacier"),
    "c.txt": records("Alpha", "volcano"),
    "gone.txt": "The old mill grinds barley on Thursdays.\n",
}
V2: dict[str, str | bytes] = {
    "stable.txt": STABLE,
    "b.md": records("Omega", "glacier"),
    "c.txt": records("Omega", "volcano"),
    "new.txt": "The new bakery sells rye loaves at dawn.\n",
}


def switch_to_v2(docs: Path) -> None:
    """Every line of b.md and c.txt changes, gone.txt goes, new.txt comes, stable.txt stays."""
    (docs / "gone.txt").unlink()
    write_files(docs, V2)


def fault_env(**extra: str) -> dict[str, str]:
    """CLI environment: hash embedder, 32-token chunks, one chunk per embedding batch (many small writes)."""
    return clean_env(CITEBOT_MODEL="hash", CITEBOT_CHUNK_TOKENS="32", CITEBOT_BATCH_SIZE="1", **extra)


def fault_settings(root: Path) -> Settings:
    """The same settings in process, for ``root/docs`` and ``root/db``."""
    return hash_settings(root, chunk_tokens=32, batch_size=1)


def hooked_env(root: Path, point: str, stall: float = 120, base: dict[str, str] | None = None
               ) -> tuple[dict[str, str], Path]:
    """An environment that stalls ``citebot`` at ``point`` (see hook_sitecustomize.py) until ``release(marker)``
    or for ``stall`` seconds at most; also returns the marker file that appears when the point is reached."""
    hook_dir = root / "hook"
    hook_dir.mkdir(exist_ok=True)
    shutil.copy(HOOK, hook_dir / "sitecustomize.py")
    marker = root / f"reached-{point}"
    path = os.pathsep.join(p for p in [str(hook_dir), os.environ.get("PYTHONPATH", "")] if p)
    hooked = dict(base if base is not None else fault_env())
    hooked.update(PYTHONPATH=path, TESTHOOK_POINT=point, TESTHOOK_MARKER=str(marker),
                  TESTHOOK_RELEASE=str(_release_file(marker)), TESTHOOK_STALL=str(stall))
    return hooked, marker


def _release_file(marker: Path) -> Path:
    return marker.with_name(marker.name + ".release")


def release(marker: Path) -> None:
    """Let the run stalled at ``marker``'s point go on."""
    _release_file(marker).write_text("go")


POLL = 0.05  # seconds between looks at a marker file
STARTED: list[subprocess.Popen[str]] = []  # killed after each test by conftest if still running


def start_index(root: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    """``citebot index docs --db db`` in ``root``, in the background."""
    proc = subprocess.Popen([str(CITEBOT), "index", "docs", "--db", "db", *extra], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    STARTED.append(proc)
    return proc


def reap() -> None:
    """Kill what a failed test left running (a stalled run sleeps for minutes)."""
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[str, str]:
    """``proc``'s output once it ends (bounded). A stalled run that will not end fails the test with every
    thread's stack (the hook prints them on SIGUSR1), not a bare timeout."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)
        time.sleep(2)
        proc.kill()
        _, err = proc.communicate(timeout=30)
        pytest.fail(f"citebot did not end within {timeout} s; its threads:\n{err[-6000:]}")


def wait_for(marker: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    """Until ``proc`` reaches its stall point (bounded)."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"citebot index ended before the stall point: {proc.returncode}\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("citebot index never reached the stall point")
        time.sleep(POLL)

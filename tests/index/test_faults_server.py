"""A stalled Chroma server (issue 12, row 12): a long-lived Engine (the bot) and the CLI alike give up on a
question within the ``chroma_timeout`` setting, with the one-line unreachable error, and answer again once the
server resumes."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from citebot.index import Engine, Settings, StoreUnavailable
from citebot.index.cli import main
from citebot.index.settings import get_settings

from ..chroma_server import ChromaServer, free_port
from .helpers import CHROMA, write_files

pytestmark = pytest.mark.skipif(not CHROMA.exists(), reason="the chroma server binary is not installed")

TIMEOUT = 1.0  # the setting under test, short to keep the test fast
SLACK = 3.0  # what a question may take beyond it (the default engine's search work, a loaded machine)
START_WITHIN = 30.0  # seconds `chroma run` may take to answer its heartbeat
POLL = 0.05


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``chroma run`` of this test alone (it pauses the process): the process and its port."""
    srv = ChromaServer(tmp_path / "chroma-data", free_port(), tmp_path / "chroma.log")
    srv.start(START_WITHIN)
    assert srv.proc is not None
    try:
        yield srv.proc, srv.port
    finally:
        srv.stop()


def test_default_timeout_fits_a_bot() -> None:
    assert 1 <= Settings(_env_file=None).chroma_timeout <= 10  # type: ignore[call-arg]


def test_paused_server_fails_each_question_within_the_timeout(
    tmp_path: Path, server: tuple[subprocess.Popen[bytes], int], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proc, port = server
    write_files(tmp_path / "docs", {"cranes.txt": "The harbour crane lifts forty containers an hour.\n"})
    settings = Settings(  # type: ignore[call-arg]
        chroma_host="127.0.0.1", chroma_port=port, state_dir=tmp_path / "state", docs_dir=tmp_path / "docs",
        model="hash", chroma_timeout=TIMEOUT, _env_file=None,
    )
    engine = Engine(settings)
    engine.index()
    answer = engine.ask("crane containers", 1).to_json()
    message = f"cannot reach the Chroma server at 127.0.0.1:{port}"

    # A write waits longer than a question: a server storing a large batch is slow to answer, not gone.
    manifest = engine.ledger.load()  # on the server itself (issue 13)
    assert manifest is not None
    chunks = engine.store.get(manifest.chunk_ids(), embeddings=True)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            engine.store.upsert(chunks)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    writer = threading.Thread(target=write, daemon=True)
    proc.send_signal(signal.SIGSTOP)
    writer.start()
    writer.join(TIMEOUT + 1)  # returns early only if the write gave up
    assert writer.is_alive() and not errors, errors
    proc.send_signal(signal.SIGCONT)
    writer.join(30)
    assert not writer.is_alive() and not errors, errors

    proc.send_signal(signal.SIGSTOP)
    for attempt in ("on the open connection", "while connecting afresh"):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=message):
            engine.ask("crane containers", 1)
        assert time.monotonic() - started < TIMEOUT + SLACK, attempt

    # the CLI reads the same setting from the environment and gives up as soon
    for key, value in {"CITEBOT_MODEL": "hash", "CITEBOT_CHROMA_HOST": "127.0.0.1", "CITEBOT_CHROMA_PORT": str(port),
                       "CITEBOT_STATE_DIR": str(tmp_path / "state"), "CITEBOT_CHROMA_TIMEOUT": str(TIMEOUT)}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        started = time.monotonic()
        code = main(["ask", "crane containers"])
        elapsed = time.monotonic() - started
    finally:
        get_settings.cache_clear()
    assert (code, capsys.readouterr().err.strip()) == (3, f"citebot: {message}")
    assert elapsed < TIMEOUT + SLACK

    proc.send_signal(signal.SIGCONT)
    assert engine.ask("crane containers", 1).to_json() == answer, "answers again once the server resumes"

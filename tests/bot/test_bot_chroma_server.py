"""The bot against a real `chroma run` server that goes away and comes back: one-line messages, then recovery."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from bot_harness import check_all_sent, discord_session, member, run
from fake_discord import EPHEMERAL, MANAGE_GUILD

from citebot.index import Engine, Settings

CHROMA = Path(sys.executable).parent / "chroma"  # installed with chromadb beside the interpreter running the tests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChromaServer:
    """`chroma run` on 127.0.0.1 with a temporary path; started and stopped by its process id."""

    def __init__(self, path: Path, port: int) -> None:
        self.path, self.port = path, port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        log = open(self.path.parent / "chroma.log", "ab")  # noqa: SIM115 - the child keeps writing to it
        self.proc = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}")
            heartbeat = f"http://127.0.0.1:{self.port}/api/v2/heartbeat"
            with contextlib.suppress(OSError), urllib.request.urlopen(heartbeat, timeout=1):
                return
            time.sleep(0.1)
        raise TimeoutError("chroma run did not answer its heartbeat")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    if not CHROMA.exists():
        pytest.skip("the chroma CLI is not installed")
    server = ChromaServer(tmp_path / "chroma", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_chroma_server_down_then_back(chroma_server: ChromaServer, corpus: Path, tmp_path: Path) -> None:
    settings = Settings(
        docs_dir=corpus, chroma_host="127.0.0.1", chroma_port=chroma_server.port, state_dir=tmp_path / "state",
        model="hash", _env_file=None,
    )
    engine = Engine(settings)
    engine.index()
    down = f"Cannot reach the Chroma server at 127.0.0.1:{chroma_server.port}"

    async def scenario() -> None:
        async with discord_session(engine) as (fake, _bot):
            before = await fake.slash("ask", {"question": "When should roses be pruned?"}, member())
            await fake.until(lambda: before.followups, what="an answer from the server")
            assert "Prune roses" in before.followups[0]["embeds"][0]["description"]

            await asyncio.to_thread(chroma_server.stop)
            ask = await fake.slash("ask", {"question": "When should roses be pruned?"}, member())
            reindex = await fake.slash("reindex", user=member(), permissions=MANAGE_GUILD)
            status = await fake.slash("status", user=member())
            await fake.until(lambda: ask.followups and status.replies and any(
                "not done" in (e.get("content") or "") for e in reindex.edits), timeout=30, what="the down replies")
            # A member reads a plain sentence (no host); the admin who ran /reindex reads the details.
            assert ask.followups[0]["content"].startswith("I can't reach the document index right now")
            assert int(ask.followups[0]["flags"]) & EPHEMERAL
            assert reindex.edits[-1]["content"].endswith(f"not done: {down[0].lower()}{down[1:]}")
            assert status.replies[0]["embeds"][0]["fields"][0]["value"] == "4", "/status reads the manifest"

            await asyncio.to_thread(chroma_server.start)
            after = await fake.slash("ask", {"question": "When should roses be pruned?"}, member())
            await fake.until(lambda: after.followups, timeout=30, what="an answer after the server returned")
            assert "Prune roses" in after.followups[0]["embeds"][0]["description"]
            check_all_sent(fake)

    run(scenario(), timeout=90)

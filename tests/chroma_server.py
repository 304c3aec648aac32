"""``chroma run`` for the tests that need a real Chroma server: on 127.0.0.1 at a free port, every wait
bounded, stopped by its process id. One home for the index tests (server mode, replicas, a stalled server)
and the bot's (a server that goes away and comes back)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.index.helpers import CHROMA, clean_env

POLL = 0.05  # seconds between heartbeats while the server starts
STOP_WITHIN = 15.0  # seconds a stopped server gets to exit before it is killed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ChromaServer:
    path: Path
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        """Start it and wait (at most ``timeout`` seconds) until it answers its heartbeat."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env=clean_env(),
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"chroma run exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://{self.address}/api/v2/heartbeat", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(POLL)
        self.stop()
        pytest.fail(f"chroma run did not answer within {timeout} s")

    def stop(self) -> None:
        """Stop the server we started, by its process id (resumed first, in case a test paused it)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(STOP_WITHIN)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_WITHIN)
        self.proc = None

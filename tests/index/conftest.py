"""Fixtures of the index tests. The real model is loaded by as few tests as possible: one indexed corpus
(built through the CLI, in process) is shared by the whole session."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from citebot.index import Settings

from ..chroma_server import ChromaServer, free_port
from . import faults
from .helpers import clean_env, cli, hash_settings, write_files

# Our own small corpus. Line numbers below are asserted by the end-to-end tests: keep them in step.
REAL_CORPUS: dict[str, str | bytes] = {
    "garden.md": (
        "# Allotment handbook\n"
        "\n"
        "## Tomatoes\n"
        "\n"
        "Tomatoes need at least six hours of direct sunlight every day.\n"  # line 5
        "Water them deeply twice a week and keep the leaves dry, because wet\n"
        "leaves invite blight.\n"
        "\n"
        "## Compost\n"
        "\n"
        "A compost heap turns kitchen scraps into dark soil within three months.\n"  # line 11
        "Turn the heap every fortnight so that air reaches the middle.\n"
        "\n"
        "## Bees\n"
        "\n"
        "Plant lavender near the gate: the bees that visit it also pollinate the beans.\n"  # line 16
    ),
    "trains.txt": (
        "The night train to Vienna leaves platform nine at 22:40.\n"  # line 1
        "Sleeper cabins hold four berths, and breakfast is served at 07:15.\n"
        "Tickets can be refunded up to one day before departure.\n"
        "\n"
        "Bicycles travel in the last carriage and must be booked in advance.\n"
        "Dogs ride free if they stay on a lead.\n"  # line 6
    ),
    "kitchen/bread.rst": (
        "Sourdough bread\n"
        "===============\n"
        "\n"
        "Feed the starter with equal weights of flour and water the evening before baking.\n"
        "The dough rises overnight in a cool room, about twelve hours at 18 degrees.\n"  # line 5
        "Bake the loaf in a covered pot at 250 degrees for twenty minutes, then uncovered for twenty-five more.\n"
    ),
    # A byte-order mark and CRLF line ends must not shift line numbers.
    "ferry.txt": "\ufeffThe ferry to the island sails at noon on Sundays.\r\nIt carries forty cars.\r\n".encode(),
}
OFF_TOPIC = "Who won the 1966 football world cup final?"


@dataclass(frozen=True)
class RealIndex:
    """A corpus indexed once with the bundled model and a local Chroma, through ``citebot index``."""

    root: Path
    docs: Path
    db: Path
    env: dict[str, str]
    report: dict[str, object]

    def settings(self) -> Settings:
        return Settings(db_path=self.db, docs_dir=self.docs, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> RealIndex:
    root = tmp_path_factory.mktemp("real")
    docs = write_files(root / "docs", REAL_CORPUS)
    env = clean_env()
    proc = cli("index", "docs", "--db", "db", "--json", env=env, cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return RealIndex(root, docs, root / "db", env, json.loads(proc.stdout))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Hash-embedder settings over ``tmp_path/docs`` (created empty)."""
    (tmp_path / "docs").mkdir()
    return hash_settings(tmp_path)


@pytest.fixture(autouse=True)
def no_citebot_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process tests must not pick up a developer's CITEBOT_* variables."""
    for key in list(os.environ):
        if key.startswith("CITEBOT_"):
            monkeypatch.delenv(key)
    yield


@pytest.fixture(autouse=True)
def _reap_stalled_index_processes() -> Iterator[None]:
    yield
    faults.reap()


# The server tests' Chroma server (test_server_mode.py, test_replicas.py): one per module.
@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One ``chroma run`` for the module (a start costs 1-2 s); each test keeps to a collection of its own."""
    root = tmp_path_factory.mktemp("chroma")
    srv = ChromaServer(root / "chroma-data", free_port(), root / "chroma.log")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def server(shared_server: ChromaServer) -> ChromaServer:
    """The shared server, up and answering (a test that failed half way may have left it stopped)."""
    if shared_server.proc is not None and shared_server.proc.poll() is None:
        shared_server.proc.send_signal(signal.SIGCONT)  # in case a test stopped it with SIGSTOP
    else:
        shared_server.start()
    return shared_server

"""Chroma server mode against a real ``chroma run`` on 127.0.0.1: index, ask, re-index, outage, recovery."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from citebot.index import Engine, IndexMissing, Settings, StoreUnavailable
from citebot.index import store as store_module
from citebot.index.store import Store

from ..chroma_server import ChromaServer
from .faults import QUESTIONS, V1, finish, hooked_env, release, start_index, switch_to_v2, wait_for
from .helpers import CHROMA, assert_one_line_error, clean_env, cli, crowd, write_files

pytestmark = pytest.mark.skipif(not CHROMA.exists(), reason="the chroma server binary is not installed")


def _collection(tmp_path: Path) -> str:
    """The test's own collection on the shared server, named after its temporary folder."""
    return re.sub(r"[^A-Za-z0-9]+", "-", tmp_path.name).strip("-")[:60]


def _settings(tmp_path: Path, server: ChromaServer) -> Settings:
    return Settings(  # type: ignore[call-arg]
        chroma_host="127.0.0.1", chroma_port=server.port, state_dir=tmp_path / "state", docs_dir=tmp_path / "docs",
        collection=_collection(tmp_path), model="hash", sure_relevance=0.0, _env_file=None,  # as clean_env
    )


def _cli_env(tmp_path: Path, server: ChromaServer) -> dict[str, str]:
    return clean_env(CITEBOT_MODEL="hash", CITEBOT_CHROMA_HOST="127.0.0.1", CITEBOT_CHROMA_PORT=str(server.port),
                     CITEBOT_STATE_DIR=str(tmp_path / "state"), CITEBOT_COLLECTION=_collection(tmp_path))


def test_index_ask_reindex_outage_and_recovery(tmp_path: Path, server: ChromaServer) -> None:
    write_files(tmp_path / "docs", {
        "cranes.txt": "The harbour crane lifts forty containers an hour.\n",
        "ferry.txt": "The ferry sails at noon on Sundays.\n",
    })
    settings = _settings(tmp_path, server)
    engine = Engine(settings)
    first = engine.index()
    assert first.added == 2 and engine.stats().store == server.address
    answer = engine.ask("how many containers does the crane lift", 1).to_json()
    assert answer["hits"][0]["source"] == "cranes.txt"  # type: ignore[index]

    (tmp_path / "docs" / "ferry.txt").write_text("The ferry now sails at one o'clock on Sundays.\n")
    again = engine.index()
    assert (again.updated, again.unchanged, again.embedded) == (1, 1, 1)
    assert engine.store.count() == again.chunks, "the old ferry chunk was deleted on the server"

    env = _cli_env(tmp_path, server)
    cli_answer = cli("ask", "how many containers does the crane lift", "--json", "-k", "1", env=env)
    assert cli_answer.returncode == 0, cli_answer.stderr
    # Asked again, by another engine (this one's last question stays the first commit's, for stats below):
    # a hit's score is its share among the passages scored, and the ferry passage changed.
    answer = Engine(settings).ask("how many containers does the crane lift", 1).to_json()
    assert json.loads(cli_answer.stdout) == answer, "the CLI and the engine read the same server index"

    server.stop()
    message = f"cannot reach the Chroma server at {server.address}"
    for _ in range(2):  # the second time through a client rebuilt while the server is still down
        with pytest.raises(StoreUnavailable) as err:
            engine.ask("how many containers does the crane lift", 1)
        assert str(err.value) == message
    with pytest.raises(StoreUnavailable, match=message):
        engine.index()  # even with nothing to change, an index run reports the outage
    assert_one_line_error(cli("ask", "crane", env=env), 3, message)
    assert_one_line_error(cli("index", tmp_path / "docs", env=env), 3, message)
    assert_one_line_error(cli("stats", env=env), 3, message)  # the manifest lives on the server (issue 13)
    fresh = Engine(settings)  # an engine that never saw the server up
    with pytest.raises(StoreUnavailable, match=message):
        fresh.ask("crane", 1)
    with pytest.raises(StoreUnavailable, match=message):
        fresh.stats()
    # A long-lived engine (the bot's /status) tells what it last saw: the first commit, its last question's.
    assert (engine.stats().files, engine.stats().generation) == (2, 1)

    server.start()  # same port, same data
    assert engine.ask("how many containers does the crane lift", 1).to_json() == answer, "recovered by itself"
    assert fresh.ask("how many containers does the crane lift", 1).to_json() == answer
    (tmp_path / "docs" / "tug.txt").write_text("The tugboat pushes the tanker into the dock.\n")
    report = engine.index()
    assert (report.added, report.unchanged) == (1, 2)
    assert engine.ask("what pushes the tanker", 1).hits[0].source == "tug.txt"
    proc = cli("index", tmp_path / "docs", env=env)
    assert proc.returncode == 0 and proc.stdout.startswith("0 added, 0 updated, 0 removed, 3 unchanged")


def test_server_dying_during_a_re_index(tmp_path: Path, server: ChromaServer) -> None:
    """The run fails with the one-line message; the old index answers again once the server is back, and the
    next run completes and collects what the failed one wrote."""
    write_files(tmp_path / "docs", V1)
    env = dict(_cli_env(tmp_path, server), CITEBOT_CHUNK_TOKENS="32", CITEBOT_BATCH_SIZE="1")
    assert cli("index", "docs", env=env, cwd=tmp_path).returncode == 0
    settings = _settings(tmp_path, server).model_copy(update={"chunk_tokens": 32, "batch_size": 1})
    engine = Engine(settings)
    before = [engine.ask(q, 3).to_json() for q in QUESTIONS]

    switch_to_v2(tmp_path / "docs")
    hooked, marker = hooked_env(tmp_path, "upsert", base=env)
    proc = start_index(tmp_path, hooked)
    wait_for(marker, proc)
    server.stop()  # during the stall: the run's next write finds no server
    release(marker)
    _, err = finish(proc)
    assert proc.returncode == 3, err
    assert err.strip().splitlines()[-1] == f"citebot: cannot reach the Chroma server at {server.address}"
    assert "Traceback" not in err

    server.start()
    assert [engine.ask(q, 3).to_json() for q in QUESTIONS] == before, "the previous index answers as before"
    report = cli("index", "docs", "--json", env=env, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["updated"] == 2
    manifest = engine.ledger.load()
    assert manifest is not None
    assert engine.store.count() == len(manifest.chunk_ids()), "the failed run's chunks were collected"
    b_lines = [line for c in engine.store.get(manifest.files["b.md"].chunks) for line in c.text.split("\n")]
    assert b_lines and all(line.startswith("Omega ") for line in b_lines)


def test_server_that_lost_its_data_is_filled_again(tmp_path: Path, server: ChromaServer) -> None:
    """The committed manifest lives on the server with the chunks (issue 13): a server that came back empty
    says that nothing is indexed there, never a silent "No answer", and the next run fills it."""
    write_files(tmp_path / "docs", {"cranes.txt": "The harbour crane lifts forty containers an hour.\n",
                                    "ferry.txt": "The ferry sails at noon on Sundays.\n"})
    engine = Engine(_settings(tmp_path, server))
    engine.index()
    assert engine.ask("crane containers", 1).hits
    server.stop()
    server.path = tmp_path / "empty-chroma-data"  # e.g. a volume that was not mounted
    server.start()
    with pytest.raises(IndexMissing, match=f"nothing is indexed at {server.address} yet"):
        engine.ask("crane containers", 1)
    report = engine.index()
    assert (report.added, report.embedded) == (2, 2)
    assert engine.ask("crane containers", 1).hits[0].source == "cranes.txt"


def test_a_reader_searches_past_chunks_another_client_wrote_since_it_sized_the_collection(
    tmp_path: Path, server: ChromaServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server reader caches the collection's size for a second (COUNT_MAX_AGE); a re-index elsewhere may write
    thousands of chunks in it. Searching past them with the old size, it stopped with no committed chunk found:
    now a search that found as many as the old size says asks the size again."""
    # The writes land within the size's age here, as a fast re-index's do; on its own, 2,000 take over a second.
    monkeypatch.setattr(store_module, "COUNT_MAX_AGE", 600.0)
    vectors = crowd(11)
    settings = _settings(tmp_path, server)
    writer, reader = Store(settings), Store(settings)
    writer.upsert(vectors.committed)
    assert [cid for cid, _ in reader.nearest(vectors.target, 5, vectors.trusted)] == vectors.exact
    writer.upsert(vectors.crowd)
    assert [cid for cid, _ in reader.nearest(vectors.target, 5, vectors.trusted)] == vectors.exact

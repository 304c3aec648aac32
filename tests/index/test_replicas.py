"""Stateless replicas on a Chroma server (issue 13): the committed manifest and the writer's lease live on the
server, every process's state folder is a cache. Against a real ``chroma run`` on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from citebot.index import Engine, IndexBusy, Settings, keyword_cache, ledger, state
from citebot.index import indexer as indexer_module
from citebot.index.errors import LeaseHeld
from citebot.index.keyword import KeywordIndex

from ..chroma_server import ChromaServer
from .faults import QUESTIONS, V1, hooked_env, switch_to_v2, wait_for
from .helpers import CHROMA, CITEBOT, clean_env, cli, write_files
from .test_server_mode import _collection

pytestmark = pytest.mark.skipif(not CHROMA.exists(), reason="the chroma server binary is not installed")
LEASE = 2.0  # seconds: the lease length the tests' writers use (CITEBOT_LEASE_SECONDS), short to see it expire
SEEN_WITHIN = 20.0  # seconds a replica may take to answer from a new commit (the pointer: 0.5 s; a rebuild: less)
POLL = 0.1


def _settings(tmp_path: Path, server: ChromaServer, state: str, **extra: Any) -> Settings:
    """Settings of one process: its own state folder ``tmp_path/state``, the test's collection."""
    values: dict[str, Any] = {
        "chroma_host": "127.0.0.1", "chroma_port": server.port, "state_dir": tmp_path / state,
        "docs_dir": tmp_path / "docs", "collection": _collection(tmp_path), "model": "hash", "lease_seconds": LEASE,
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _env(tmp_path: Path, server: ChromaServer, state: str) -> dict[str, str]:
    return clean_env(CITEBOT_MODEL="hash", CITEBOT_CHROMA_HOST="127.0.0.1", CITEBOT_CHROMA_PORT=str(server.port),
                     CITEBOT_STATE_DIR=str(tmp_path / state), CITEBOT_COLLECTION=_collection(tmp_path),
                     CITEBOT_CHUNK_TOKENS="32", CITEBOT_BATCH_SIZE="1", CITEBOT_LEASE_SECONDS=str(LEASE))


def _top(engine: Engine, question: str) -> tuple[str, str] | None:
    hits = engine.ask(question, 1).hits
    return (hits[0].source, hits[0].line_text) if hits else None


class Killed(BaseException):
    """Stands for a kill between a run's writes and its commit (the dirty marker stays, as after kill -9)."""


def _killed_before_commit() -> None:
    raise Killed


# --- what Chroma itself must do for the lease --------------------------------------------------------------------


def test_chroma_add_keeps_a_record_that_exists(tmp_path: Path, server: ChromaServer) -> None:
    """The lease relies on it (ledger.Lease): of two writers adding lease N+1, the first keeps it."""
    records = ledger.ChromaLedger(_settings(tmp_path, server, "state")).records
    for holder in ("first", "second"):
        records.call(lambda col, h=holder: col.add(ids=["x"], embeddings=[[1.0]], metadatas=[{"holder": h}]),
                     write=True)
    got = records.call(lambda col: col.get(ids=["x"], include=["metadatas"]))
    assert got["metadatas"] == [{"holder": "first"}]


# --- the two data-loss cases of issue 13, and lost chunks found by id ----------------------------------------------

X_DOCS = {"cranes.txt": "The harbour crane lifts forty containers an hour.\n",
          "ferry.txt": "The ferry sails at noon on Sundays.\n",
          "bread.txt": "Sourdough needs a starter fed with flour and water.\n"}
Y_DOCS = {"owls.txt": "Barn owls hunt voles over the meadow at dusk.\n",
          "bees.txt": "Bees that visit the lavender also pollinate the beans.\n",
          "tides.txt": "The spring tide floods the causeway twice a month.\n"}


def test_a_killed_run_of_one_state_folder_leaves_the_others_index_whole(tmp_path: Path, server: ChromaServer) -> None:
    """Issue 13, first case: two state folders on one collection; one is killed mid-run and runs again. Its
    clean-up used to delete every chunk its own manifest did not list, the other's whole index, which then
    answered "No answer" while its stats claimed the chunks. With one manifest, kept on the server, both see
    the same committed index, every chunk of which is in Chroma."""
    a_docs, b_docs = write_files(tmp_path / "x", X_DOCS), write_files(tmp_path / "y", Y_DOCS)
    a = Engine(_settings(tmp_path, server, "state-a"))
    b = Engine(_settings(tmp_path, server, "state-b"))
    a.index(a_docs)
    b_report = b.index(b_docs)
    assert (b_report.added, b_report.removed) == (3, 3), "one collection holds one document set: B's replaces A's"
    (a_docs / "ferry.txt").write_text("The ferry now sails at one o'clock on Sundays.\n")
    with pytest.raises(Killed):
        indexer_module.build(a.settings, a_docs, a.embedder, a.store, before_commit=_killed_before_commit)
    a.index(a_docs)  # the run after the killed one: dirty, so its clean-up sweeps the collection
    for engine in (a, b):
        report = engine.check()
        assert report.healthy, [p.line() for p in report.problems]
        stats = engine.stats()
        assert (stats.files, stats.chunks) == (3, len(engine.store.existing_ids(engine.ledger.load().chunk_ids())))
    assert set(a.store.all_ids()) == set(a.ledger.load().chunk_ids()), "orphans collected, nothing else lost"
    assert _top(b, "when does the ferry sail") == ("ferry.txt", "The ferry now sails at one o'clock on Sundays.")


def test_an_edit_committed_through_one_state_folder_is_what_the_other_answers(
    tmp_path: Path, server: ChromaServer
) -> None:
    """Issue 13, second case: an edit indexed through one state folder deleted the chunk the other's manifest
    still listed, and the other's top hit vanished. Now the other answers from the new commit."""
    docs = write_files(tmp_path / "docs", X_DOCS)
    a = Engine(_settings(tmp_path, server, "state-a"))
    b = Engine(_settings(tmp_path, server, "state-b"))
    a.index(docs)
    again = b.index(docs)
    assert (again.added, again.unchanged, again.embedded) == (0, 3, 0), "B sees A's commit: nothing to do"
    assert _top(b, "when does the ferry sail") == ("ferry.txt", "The ferry sails at noon on Sundays.")
    (docs / "ferry.txt").write_text("The ferry now sails at one o'clock on Sundays.\n")
    assert a.index(docs).updated == 1
    deadline = time.monotonic() + SEEN_WITHIN
    while _top(b, "when does the ferry sail") != ("ferry.txt", "The ferry now sails at one o'clock on Sundays."):
        assert time.monotonic() < deadline, f"B still answers {_top(b, 'when does the ferry sail')}"
        time.sleep(POLL)


def test_lost_chunks_are_found_by_id_though_foreign_chunks_keep_the_count(tmp_path: Path, server: ChromaServer) -> None:
    """Chunks that no manifest owns (here: copies under other ids) keep the collection's count as it was; the
    loss is found by id, by a replica whose state folder is empty, and its run embeds the file again."""
    docs = write_files(tmp_path / "docs", X_DOCS)
    a = Engine(_settings(tmp_path, server, "state-a"))
    a.index(docs)
    manifest = a.ledger.load()
    assert manifest is not None
    lost = manifest.files["ferry.txt"].chunks
    copies = [replace(c, id=f"foreign-{c.id}") for c in a.store.get(lost, embeddings=True)]
    count = a.store.count()
    a.store.delete(lost)
    a.store.upsert(copies)
    assert a.store.count() == count
    b = Engine(_settings(tmp_path, server, "state-b"))
    problems = [p.line() for p in b.check().problems]
    assert len(problems) == 1 and "1 indexed chunk(s) of 1 file(s) are missing from" in problems[0], problems
    report = b.index(docs)
    assert report.updated == 1 and "were missing from" in report.warnings[0]
    assert b.check().healthy and a.check().healthy


def test_a_manifest_spans_records_and_a_commit_removes_those_of_older_generations(
    tmp_path: Path, server: ChromaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger, "PART_CHARS", 200)  # a manifest of three files takes several records
    docs = write_files(tmp_path / "docs", X_DOCS)
    writer = Engine(_settings(tmp_path, server, "state-w"))
    for generation, text in enumerate(["at noon", "at one", "at two"], start=1):
        (docs / "ferry.txt").write_text(f"The ferry sails {text} on Sundays.\n")
        assert writer.index(docs).generation == generation
    records = writer.ledger.records.call(lambda col: col.get(include=[]))["ids"]
    parts = sorted(r for r in records if r.startswith("manifest-"))
    assert {r.split("-")[1] for r in parts} == {"2", "3"}, "the one before is kept for readers mid-read"
    assert sum(r.startswith("manifest-3-") for r in parts) > 1
    replica = Engine(_settings(tmp_path, server, "state-r"))
    assert replica.ledger.load() == writer.ledger.load()
    assert _top(replica, "when does the ferry sail") == ("ferry.txt", "The ferry sails at two on Sundays.")


# --- keyword search per replica ------------------------------------------------------------------------------------


def test_the_terms_cache_reads_back_what_was_written_interned_and_in_the_old_format(tmp_path: Path) -> None:
    term_lists = [["harbour", "crane", "lift", "crane"], [], ["ferri", "sail", "noon"]]
    KeywordIndex.build_from_terms(["a", "b", "c"], term_lists).write(state.keyword_dir(tmp_path, 4), term_lists)
    cached = keyword_cache.cached_terms(tmp_path, 4)
    assert cached == dict(zip("abc", term_lists, strict=True))
    assert cached["a"][1] is cached["a"][3], "one string per distinct term"
    (state.keyword_dir(tmp_path, 4) / keyword_cache.TERMS_FILE).write_text(json.dumps({"a": ["old", "list"]}))
    assert keyword_cache.cached_terms(tmp_path, 4) == {"a": ["old", "list"]}
    (state.keyword_dir(tmp_path, 4) / keyword_cache.TERMS_FILE).write_text(json.dumps({"a": [1, 2]}))
    assert keyword_cache.cached_terms(tmp_path, 4) == {}, "a damaged cache is read from the chunks instead"



def test_a_replica_answers_from_the_previous_generation_until_its_keyword_index_is_built(
    tmp_path: Path, server: ChromaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = write_files(tmp_path / "docs", X_DOCS)
    writer = Engine(_settings(tmp_path, server, "state-w"))
    writer.index(docs)
    replica = Engine(_settings(tmp_path, server, "state-r"))
    assert _top(replica, "sourdough starter flour water") == ("bread.txt", X_DOCS["bread.txt"].strip())
    go = threading.Event()
    real = keyword_cache.for_commit

    def held_in_the_background(*args: Any) -> Any:
        if threading.current_thread().name == "citebot-keyword":
            assert go.wait(30), "the test never let the build finish"
        return real(*args)

    monkeypatch.setattr(keyword_cache, "for_commit", held_in_the_background)
    write_files(docs, {"owls.txt": Y_DOCS["owls.txt"]})
    (docs / "bread.txt").unlink()
    writer.index(docs)
    time.sleep(ledger.POINTER_MAX_AGE)  # the replica's last look at the pointer has aged out
    for _ in range(3):  # the new commit is known, its keyword index not ready: the previous generation answers
        assert _top(replica, "barn owls hunt voles meadow") != ("owls.txt", Y_DOCS["owls.txt"].strip())
        answer = replica.ask("sourdough starter flour water", 3)
        assert all(h.source != "owls.txt" for h in answer.hits), "never a mix of the two generations"
    go.set()
    deadline = time.monotonic() + SEEN_WITHIN
    while _top(replica, "barn owls hunt voles meadow") != ("owls.txt", Y_DOCS["owls.txt"].strip()):
        assert time.monotonic() < deadline, "the replica never took the new generation"
        time.sleep(POLL)
    assert all(h.source != "bread.txt" for h in replica.ask("sourdough starter flour water", 5).hits)
    cache = ledger.cache_dir(replica.settings)
    assert (cache / "keyword-2" / "terms.json").exists(), "cached for the next start"


# --- one writer per collection, and collections that do not touch ---------------------------------------------------


def test_collections_on_one_server_are_independent(tmp_path: Path, server: ChromaServer) -> None:
    """Per-guild document sets: two collections on one server, one CITEBOT_STATE_DIR; each has its own
    manifest, lease and keyword cache."""
    one = Engine(_settings(tmp_path, server, "state", collection=_collection(tmp_path) + "-one"))
    two = Engine(_settings(tmp_path, server, "state", collection=_collection(tmp_path) + "-two"))
    one.index(write_files(tmp_path / "x", X_DOCS))
    with one.ledger.lock():  # a run of `one` in progress does not hold `two` up
        two.index(write_files(tmp_path / "y", Y_DOCS))
        with pytest.raises(LeaseHeld, match=rf"another re-index is running on {socket.gethostname()}:{os.getpid()}"):
            Engine(one.settings).index(tmp_path / "x")
    assert one.ledger.load().files.keys() == X_DOCS.keys()  # type: ignore[union-attr]
    assert two.ledger.load().files.keys() == Y_DOCS.keys()  # type: ignore[union-attr]
    assert _top(one, "harbour crane containers")[0] == "cranes.txt"  # type: ignore[index]
    assert _top(two, "harbour crane containers") != ("cranes.txt", X_DOCS["cranes.txt"].strip())
    assert ledger.cache_dir(one.settings) != ledger.cache_dir(two.settings)
    assert all((ledger.cache_dir(e.settings) / "keyword-1").is_dir() for e in (one, two))
    assert issubclass(LeaseHeld, IndexBusy) and LeaseHeld.exit_code == 7


def test_a_writer_whose_lease_ran_out_while_it_stalled_does_not_commit(tmp_path: Path, server: ChromaServer) -> None:
    books = ledger.ChromaLedger(_settings(tmp_path, server, "state"))
    stalled = ledger.Lease(books.records, 0.5, books.where)
    stalled.acquire(wait=0)
    stalled._stop.set()  # it stops renewing, as a process that is paused (SIGSTOP) or starved would
    other = ledger.Lease(books.records, 5.0, books.where)
    other.holder = "another-machine:2"
    other.acquire(wait=5)  # once the stalled one's lease ran out
    with pytest.raises(LeaseHeld, match="ran out while it stalled and another-machine:2 took it over"):
        stalled.confirm()
    stalled.release()  # leaves the new holder's lease alone
    with pytest.raises(LeaseHeld, match="running on another-machine:2 "):
        ledger.Lease(books.records, 5.0, books.where).acquire(wait=0)
    other.release()
    after = ledger.Lease(books.records, 5.0, books.where)
    after.acquire(wait=0)  # released: free at once
    after.release()


# --- three processes ---------------------------------------------------------------------------------------------

REPLICA = """
import json, sys
from citebot.index import CitebotError, Engine, configure_process
configure_process()
engine = Engine()
for line in sys.stdin:
    try:
        hits = [[h.source, h.line_text] for h in engine.ask(json.loads(line), 3).hits]
        print(json.dumps({"hits": hits}), flush=True)
    except CitebotError as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}), flush=True)
"""


class Replica:
    """A process answering questions (one JSON line in, one out) through its own Engine and state folder."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log = log
        with log.open("a") as err:
            self.proc = subprocess.Popen([sys.executable, "-c", REPLICA], env=env, cwd=cwd, text=True,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)

    def ask(self, question: str, timeout: float = 60) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(question) + "\n")
        self.proc.stdin.flush()
        answer: list[str] = []
        reader = threading.Thread(target=lambda: answer.append(self.proc.stdout.readline()),  # type: ignore[union-attr]
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        assert answer and answer[0], (f"the replica (pid {self.proc.pid}) gave no answer within {timeout} s: "
                                      f"{self.log.read_text()[-2000:]}")
        return dict(json.loads(answer[0]))

    def answers(self) -> list[dict[str, Any]]:
        return [self.ask(q) for q in QUESTIONS]

    def stop(self) -> None:
        """Stop it by its pid: end of input first, then a kill."""
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _until(replica: Replica, question: str, source: str, timeout: float = SEEN_WITHIN) -> float:
    """Seconds until ``replica``'s top hit for ``question`` comes from ``source`` (bounded)."""
    started = time.monotonic()
    while True:
        hits = replica.ask(question).get("hits") or [[None]]
        if hits[0][0] == source:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"never answered from {source}: {hits}"
        time.sleep(POLL)


def _index(env: dict[str, str], cwd: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(CITEBOT), "index", "docs", *extra], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_one_indexer_and_two_replicas_with_separate_empty_state_folders(tmp_path: Path, server: ChromaServer) -> None:
    write_files(tmp_path / "docs", V1)
    replicas: list[Replica] = []
    running: list[subprocess.Popen[str]] = []
    try:
        replicas = [Replica(_env(tmp_path, server, f"replica-{i}"), tmp_path, tmp_path / f"replica-{i}.log")
                    for i in (1, 2)]
        for replica in replicas:
            assert replica.ask(QUESTIONS[0])["error"] == "IndexMissing"
        first = cli("index", "docs", env=_env(tmp_path, server, "writer"), cwd=tmp_path)  # in process: faster
        assert first.returncode == 0, first.stderr
        for replica in replicas:  # no restart: the commit is found on the server
            assert _until(replica, QUESTIONS[1], "b.md") < SEEN_WITHIN
        before = [r.answers() for r in replicas]
        assert before[0] == before[1] and all("hits" in a for a in before[0])

        switch_to_v2(tmp_path / "docs")
        hooked, marker = hooked_env(tmp_path, "upsert", base=_env(tmp_path, server, "writer"))
        stalled = _index(hooked, tmp_path)
        running.append(stalled)
        wait_for(marker, stalled)
        second = cli("index", "docs", env=_env(tmp_path, server, "another-writer"), cwd=tmp_path)  # another folder
        assert second.returncode == 7, second.stderr
        assert second.stderr.strip().splitlines()[-1].startswith(
            f"citebot: another re-index is running on {socket.gethostname()}:{stalled.pid} ")
        assert [r.answers() for r in replicas] == before, "uncommitted chunks are not answered"

        stalled.send_signal(signal.SIGKILL)
        stalled.communicate(timeout=30)
        killed_at = time.monotonic()
        books = ledger.ChromaLedger(_settings(tmp_path, server, "test"))
        elsewhere = ledger.Lease(books.records, LEASE, books.where)
        elsewhere.holder = "another-machine:1"  # a writer that cannot see the process is gone: it waits for expiry
        with pytest.raises(LeaseHeld, match=f"running on {socket.gethostname()}:{stalled.pid} "):
            elsewhere.acquire(wait=0)
        assert [r.answers() for r in replicas] == before, "the previous generation answers after the kill"
        elsewhere.acquire(wait=LEASE * 10)  # refused (LeaseHeld) if the lease never ran out
        waited = time.monotonic() - killed_at
        elsewhere.release()
        assert waited < LEASE * 5, f"the dead holder's lease expired after {waited:.1f} s"

        last = cli("index", "docs", env=_env(tmp_path, server, "writer"), cwd=tmp_path)
        assert last.returncode == 0, last.stderr
        for replica in replicas:
            assert _until(replica, "omega glacier record drift station", "b.md") < SEEN_WITHIN
            assert "Omega" in replica.ask("omega glacier record drift station")["hits"][0][1]
        after = [r.answers() for r in replicas]
        assert after[0] == after[1] != before[0]

        shutil.rmtree(tmp_path / "replica-1")  # its cache only: nothing is lost
        assert replicas[0].answers() == after[0]
        replicas[0].stop()
        replicas[0] = Replica(_env(tmp_path, server, "replica-1"), tmp_path, tmp_path / "replica-1.log")
        assert replicas[0].answers() == after[1], "a restart with an empty folder answers as the others"
    finally:
        for replica in replicas:
            replica.stop()
        for proc in running:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=30)

"""The local Chroma directory damaged, read-only or on a full disk (issue 12, rows 3-8).

Each damage is done on disk behind citebot's back, as a crash, a bad backup, a stray ``rm``, a read-only
mount or a full disk would leave it. What must hold: one line saying what is wrong (never a traceback, never
a segfault, never a silent "No answer"), and the last good index answering whenever it is whole on disk.
Readers never write: not on a read-only mount, not on a full disk, not anywhere.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from citebot.index import state

from .helpers import _fresh_chroma_cache, assert_one_line_error, clean_env, cli, hash_settings, run_cli, write_files

ENV = clean_env(CITEBOT_MODEL="hash", CITEBOT_CHUNK_TOKENS="32")
EXIT_DAMAGED = 6  # IndexDamaged, documented in citebot.index.cli
QUESTION = "lighthouse keeper counts gulls"
CORPUS = {
    f"log{f}.txt": "\n\n".join(
        f"Record {f}-{i}: the lighthouse keeper counts {i * 7} gulls near station {i}." for i in range(15)
    ) + "\n"
    for f in range(3)
}
EXTRA = {"owls.txt": "The barn owls nest in the old mill.\n\nThey hunt at dusk over the meadow.\n"}
DATABASE = "chroma.sqlite3"


def _indexed(tmp_path: Path, files: dict[str, str] | None = None) -> tuple[Path, Path]:
    """A corpus indexed with the hash embedder through the CLI, in process: (docs, db)."""
    docs = write_files(tmp_path / "docs", files or CORPUS)
    db = tmp_path / "db"
    proc = cli("index", docs, "--db", db, env=ENV)
    assert proc.returncode == 0, proc.stderr
    return docs, db


def _persisted(tmp_path: Path) -> tuple[Path, Path]:
    """An index whose vectors Chroma has moved out of its log into an HNSW segment on disk, with a few more
    left in the log: the state of any index past ~1,000 chunks (Chroma's default sync threshold), made small
    by creating the collection with a low threshold before citebot first opens it. Opening it makes Chroma
    load the segment and replay the log into it, which is where a damaged graph crashes the process."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    db = tmp_path / "db"
    with _fresh_chroma_cache():  # as another process would, leaving this one's cache as it was
        client = chromadb.PersistentClient(path=str(db), settings=ChromaSettings(anonymized_telemetry=False))
        client.get_or_create_collection(
            "citebot", embedding_function=None,
            configuration={"hnsw": {"space": "cosine", "sync_threshold": 20, "batch_size": 10}},  # type: ignore[typeddict-item]
        )
    docs, _ = _indexed(tmp_path)
    write_files(docs, EXTRA)
    proc = cli("index", docs, "--db", db, env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert _vector_segment(db).joinpath("data_level0.bin").stat().st_size > 0
    con = sqlite3.connect(f"file:{db / DATABASE}?mode=ro", uri=True)
    pending = con.execute("SELECT count(*) FROM embeddings_queue").fetchone()[0]
    persisted = con.execute("SELECT count(*) FROM max_seq_id").fetchone()[0]
    con.close()
    assert persisted == 2 and pending > 1, "vectors persisted in the segment, and some left in the log"
    return docs, db


def _vector_segment(db: Path) -> Path:
    folders = [p for p in db.iterdir() if p.is_dir() and _is_uuid(p.name) and (p / "header.bin").exists()]
    assert len(folders) == 1, folders
    return folders[0]


def _is_uuid(name: str) -> bool:
    try:
        uuid.UUID(name)
    except ValueError:
        return False
    return True


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time: what a reader must leave as it was."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def _chunks(db: Path) -> int:
    manifest = state.load(db / "citebot")
    assert manifest is not None
    return len(manifest.chunk_ids())


def _answers(db: Path, question: str = QUESTION, **env: str) -> str:
    proc = cli("ask", question, "--db", db, env={**ENV, **env})
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


# --- row 3: chroma.sqlite3 deleted --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_deleted_database_is_an_error_not_a_silent_no_answer(tmp_path: Path, mode: str) -> None:
    docs, db = _indexed(tmp_path)
    (db / DATABASE).unlink()
    before = _files(db)
    proc = cli("ask", QUESTION, "--db", db, "--mode", mode, env=ENV)
    line = assert_one_line_error(proc, EXIT_DAMAGED, f"vector store at {db}")
    if mode != "keyword":  # a keyword search asks for chunks by id, not knowing how many the index lists
        assert f"lists {_chunks(db)} chunks" in line, line
    assert _files(db) == before, "the reader created nothing where the database was"


def test_index_re_embeds_what_a_deleted_database_held(tmp_path: Path) -> None:
    docs, db = _indexed(tmp_path)
    expected = _answers(db)
    (db / DATABASE).unlink()
    proc = cli("index", docs, "--db", db, env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert _answers(db) == expected


# --- row 4: chroma.sqlite3 garbage or truncated -------------------------------------------------------------------

DATABASE_DAMAGE = {
    "garbage": lambda path: path.write_bytes(os.urandom(path.stat().st_size)),
    "truncated": lambda path: os.truncate(path, path.stat().st_size // 3),
    "header only": lambda path: os.truncate(path, 4096),
}


@pytest.mark.parametrize("damage", list(DATABASE_DAMAGE))
def test_damaged_database_is_one_line_from_ask_and_index(tmp_path: Path, damage: str) -> None:
    docs, db = _indexed(tmp_path)
    DATABASE_DAMAGE[damage](db / DATABASE)
    assert_one_line_error(cli("ask", QUESTION, "--db", db, env=ENV), EXIT_DAMAGED, f"vector store at {db}")
    assert_one_line_error(cli("index", docs, "--db", db, env=ENV), EXIT_DAMAGED, f"vector store at {db}")


# --- row 5: garbage in the HNSW segment: Chroma segfaults on it (so: in a subprocess) -----------------------------


def _fill(path: Path, byte: int) -> None:
    path.write_bytes(bytes([byte]) * path.stat().st_size)


def test_garbage_graph_is_one_line_not_a_segfault(tmp_path: Path) -> None:
    docs, db = _persisted(tmp_path)
    _fill(_vector_segment(db) / "data_level0.bin", 0xFF)  # every link count and neighbour id out of range
    env = {**ENV}
    ask = run_cli("ask", QUESTION, "--db", db, env=env)
    assert ask.returncode != -11, "segfault"
    assert_one_line_error(ask, EXIT_DAMAGED, f"vector store at {db}", "damaged", "data_level0.bin")
    index = run_cli("index", docs, "--db", db, env=env)
    assert_one_line_error(index, EXIT_DAMAGED, f"vector store at {db}", "damaged")


def test_a_bot_engine_pays_the_check_once_and_says_the_same_line_each_time(tmp_path: Path) -> None:
    """A long-lived reader (the bot) checks the directory once per change of its files, not per question."""
    from citebot.index import Engine, HashEmbedder
    from citebot.index import probe as probe_module
    from citebot.index.errors import IndexDamaged

    _, db = _persisted(tmp_path)
    _fill(_vector_segment(db) / "data_level0.bin", 0xFF)
    calls = []
    real = probe_module.examine

    def counting(*args: object, **kwargs: object) -> probe_module.Verdict:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(probe_module, "examine", counting)
        engine = Engine(hash_settings(tmp_path, chunk_tokens=32), HashEmbedder())
        messages = set()
        for _ in range(3):
            with pytest.raises(IndexDamaged) as err:
                engine.ask(QUESTION)
            messages.add(str(err.value))
    assert len(messages) == 1 and len(calls) == 1, (messages, calls)


# --- row 6: the HNSW segment folder deleted, its metadata or header garbage ----------------------------------------

SEGMENT_DAMAGE = {
    "metadata garbage": lambda folder: (folder / "index_metadata.pickle").write_bytes(b"\x80\x04garbage" * 50),
    "header garbage": lambda folder: (folder / "header.bin").write_bytes(b"\x13" * 100),
    "links garbage": lambda folder: _fill(folder / "link_lists.bin", 0xEE),
}


@pytest.mark.parametrize("damage", list(SEGMENT_DAMAGE))
def test_damaged_segment_is_one_line_from_ask_and_index(tmp_path: Path, damage: str) -> None:
    docs, db = _persisted(tmp_path)
    SEGMENT_DAMAGE[damage](_vector_segment(db))
    assert_one_line_error(cli("ask", QUESTION, "--db", db, env=ENV), EXIT_DAMAGED, f"vector store at {db}")
    assert_one_line_error(cli("index", docs, "--db", db, env=ENV), EXIT_DAMAGED, f"vector store at {db}")


def test_deleted_segment_folder_is_an_error_not_answers_from_a_fraction(tmp_path: Path) -> None:
    """Chroma makes a new, empty segment and replays the little log it kept: without the check, dense search
    answers from the last few chunks written and says nothing."""
    _, db = _persisted(tmp_path)
    shutil.rmtree(_vector_segment(db))
    before = _files(db)
    for mode in ("hybrid", "dense"):
        assert_one_line_error(cli("ask", QUESTION, "--db", db, "--mode", mode, env=ENV), EXIT_DAMAGED,
                              f"vector store at {db}", "vector segment")
    assert _files(db) == before, "the reader made no new segment"


# --- row 7: readers never write; a read-only mount ------------------------------------------------------------------


def test_an_ask_leaves_every_file_of_the_index_as_it_was(tmp_path: Path) -> None:
    """chromadb writes on every open (a lock row, migrations, the log replay); a reader must not."""
    _, db = _persisted(tmp_path)  # with a log to replay: the case that grew chroma.sqlite3 by 5 MB
    before = _files(db)
    _answers(db)
    _answers(db, "barn owls nest", CITEBOT_TOP_K="1")
    assert _files(db) == before


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[Path]:
    """``folder`` as a read-only file system (a bind mount remounted read-only), or read-only by its mode bits
    for a user other than root; skips when neither can be had here."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
        for p in modes:
            p.chmod(modes[p] & ~0o222)
        try:
            yield folder
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    mount_point = folder.with_name(folder.name + "-ro")
    mount_point.mkdir()
    if subprocess.run(["mount", "--bind", str(folder), str(mount_point)], capture_output=True).returncode:
        pytest.skip("cannot bind-mount here (no mount permission): no read-only medium to test on")
    try:
        remount = subprocess.run(["mount", "-o", "remount,ro,bind", str(mount_point)], capture_output=True)
        if remount.returncode:
            pytest.skip("cannot remount read-only here")
        assert not os.access(mount_point, os.W_OK), "the mount is read-only"
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


@pytest.mark.parametrize("make", [_indexed, _persisted])
def test_index_on_a_read_only_mount_answers_as_it_did(tmp_path: Path, make: object) -> None:
    _, db = make(tmp_path)  # type: ignore[operator]
    expected = [_answers(db), _answers(db, "gulls near station 9")]
    before = _files(db)
    with _read_only(db) as ro:
        assert [_answers(ro), _answers(ro, "gulls near station 9")] == expected
        proc = cli("index", tmp_path / "docs", "--db", ro, env=ENV)
        assert "Traceback" not in proc.stderr and proc.returncode != 0, proc.stderr
        assert len([line for line in proc.stderr.splitlines() if line.strip()]) == 1, proc.stderr
    assert _files(db) == before


# --- row 8: the disk fills during index -----------------------------------------------------------------------------

DISK_BYTES = 24 * 2**20  # the small disk: room for the first index (~9 MB with its private read copy), not two
LEFT_FREE = 2 * 2**20  # what the filler leaves: enough for small writes (a lock file, a manifest), not for chunks


@contextlib.contextmanager
def _small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(disk)],
                           capture_output=True)
    if mount.returncode:
        pytest.skip("cannot mount a small tmpfs here (not root): no disk to fill")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill_disk(disk: Path) -> Path:
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free - LEFT_FREE
    with filler.open("wb") as fh:
        fh.truncate(0)
        block = b"\0" * 2**20
        while free > 0:
            fh.write(block[: min(len(block), free)])
            free -= len(block)
    return filler


def test_full_disk_during_index_is_one_line_and_the_last_index_answers_meanwhile(tmp_path: Path) -> None:
    with _small_disk(tmp_path) as disk:
        docs = write_files(tmp_path / "docs", CORPUS)
        db = disk / "db"
        assert cli("index", docs, "--db", db, env=ENV).returncode == 0
        expected = _answers(db)
        write_files(docs, {f"more{i}.txt": "\n\n".join(f"Extra {i}-{j}: the ferry carries {j} cars across the bay."
                                                        for j in range(200)) + "\n" for i in range(10)})
        filler = _fill_disk(disk)

        proc = cli("index", docs, "--db", db, env=ENV)
        assert "Traceback" not in proc.stderr, proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("citebot: ")]
        others = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("citebot: ")]
        assert proc.returncode != 0 and len(errors) == 1, proc.stderr
        assert all(line.startswith("WARNING ") for line in others), proc.stderr  # e.g. orphans left to collect
        assert "no space left on device" in errors[0] and "previous index is intact" in errors[0], errors[0]

        assert _answers(db) == expected, "the last good index answers while the disk stays full"
        # Not asserted: an ask whose TMPDIR is on the full disk too should fall back to a copy in /dev/shm; about
        # one run in three it says "no space left on device" instead (a known gap, noted on issue 12).

        filler.unlink()
        assert _answers(db) == expected, "and after space returns"
        assert cli("index", docs, "--db", db, env=ENV).returncode == 0
        assert "more3.txt" in _answers(db, "Extra 3-7 ferry carries 7 cars")


def test_chroma_keeps_its_rollback_journal() -> None:
    """A reader's private copy is whole because it copies chroma.sqlite3 under a read transaction, which holds
    only while chromadb keeps SQLite's rollback journal (WAL would keep commits outside the file)."""
    import tempfile

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    with tempfile.TemporaryDirectory() as folder, _fresh_chroma_cache():
        client = chromadb.PersistentClient(path=folder, settings=ChromaSettings(anonymized_telemetry=False))
        client.get_or_create_collection("citebot", embedding_function=None)
        con = sqlite3.connect(f"file:{folder}/{DATABASE}?mode=ro", uri=True)
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        con.close()

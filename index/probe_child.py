"""Run by ``probe.py`` in a child process, never imported: open a local Chroma directory the way Chroma will, so
that a crash in Chroma's native code (its HNSW loader segfaults on a damaged ``data_level0.bin``) kills this
child and not citebot. Optionally copy the directory first, consistently, for a reader that must not write.

Standard library and chromadb's own native bindings only, and run with ``python -I``: it must start in tens of
milliseconds and must not import citebot (or torch). Prints one JSON object on stdout (see ``probe.Verdict``);
exits 0 whatever it finds, ``EXIT_NO_ROOM`` when the copy ran out of space, and dies by a signal when Chroma does.

Usage: ``python -I probe_child.py copy|open SOURCE TARGET COLLECTION`` (TARGET is ignored by ``open``).
"""

from __future__ import annotations

import json
import resource
import shutil
import sqlite3
import struct
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

DATABASE = "chroma.sqlite3"
# What chromadb 1.5 persists per vector segment (the folder named by the segment's id). A segment whose
# vectors were persisted (it has a row in max_seq_id) and lacks one of these answers from a fraction of its
# vectors without an error: Chroma makes a new, empty segment and replays only the log it still holds.
SEGMENT_FILES = ("header.bin", "data_level0.bin", "length.bin", "link_lists.bin")
TENANT, CHROMA_DATABASE = "default_tenant", "default_database"  # chromadb's defaults, which citebot uses
# header.bin of chroma-hnswlib's persisted index (version 1): version (int32), offsetLevel0, max_elements,
# cur_element_count, size_data_per_element, label_offset, offsetData (size_t each), maxlevel (int32),
# enterpoint_node (uint32), maxM, maxM0, M (size_t), mult (double), ef_construction (size_t).
HEADER_FORMAT = "<iQQQQQQiIQQQdQ"
HEADER_BYTES = struct.calcsize(HEADER_FORMAT)  # 100
PERSISTENCE_VERSION = 1
MAX_LEVEL = 64  # far above any real graph's height (log of the element count over log M), far below garbage
EXIT_NO_ROOM = 3  # the copy failed for want of space (or of a writable place): the caller tries elsewhere
# Copies tried while a writer in another process keeps rewriting the vector files under the copy; each copy
# of a medium index takes well under a second, and a writer rewrites them once per ~1,000 chunks it adds.
COPY_ATTEMPTS = 5
LOCK_WAIT_S = 30.0  # most seconds to wait for a writer's transaction to end before copying the database
# Neighbours the test search asks for: more than a question's 40 candidates, so that it walks as much of the
# graph and maps as many labels to ids as a question would (a bad label map fails there); costs ~1 ms.
NEIGHBOURS = 100


class _Changing(Exception):
    """The vector files changed during every copy tried."""


class _Unknown(Exception):
    """The database cannot be read without a writer's rollback first."""


def main(argv: list[str]) -> int:
    mode, source, target, collection = argv[1:5]
    src = Path(source)
    if not (src / DATABASE).exists():
        return _emit(database=False, collection=False)
    where = src
    if mode == "copy":
        where = Path(target)
        try:
            _copy(src, where)
        except sqlite3.DatabaseError as exc:  # not a database, malformed, unreadable: damage, not a full disk
            return _emit(damaged=_line(exc))
        except _Changing as exc:
            return _emit(damaged=str(exc))
        except OSError as exc:
            print(json.dumps({"errno": exc.errno, "error": _line(exc)}))
            return EXIT_NO_ROOM
    try:
        segment, persisted, dimension = _vector_segment(where, collection, private=mode == "copy")
    except _Unknown:  # a writer died mid-transaction: the writer's open rolls the journal back, so open it now
        segment, persisted, dimension = "", True, None
    except sqlite3.DatabaseError as exc:
        return _emit(damaged=_line(exc))
    if segment is None:
        return _emit(collection=False)
    if not persisted:  # every vector is still in the log, which Chroma replays: nothing native to crash on
        return _emit()
    missing = [name for name in SEGMENT_FILES if segment and not (where / segment / name).is_file()]
    if missing:
        return _emit(missing=f"vector segment {segment} lacks {', '.join(missing)}")
    try:
        flaw = _graph_flaw(where / segment) if segment else ""
        if flaw:
            return _emit(damaged=f"vector segment {segment}: {flaw}")
        if segment and _element_count(where / segment) == 0:  # made anew where a persisted one was lost
            return _emit(missing=f"vector segment {segment} holds none of the vectors Chroma persisted")
        _open_and_query(where, collection, dimension)
    except Exception as exc:  # noqa: BLE001 - whatever Chroma raises, the caller gets one line
        return _emit(damaged=_line(exc))
    return _emit()


def _emit(database: bool = True, collection: bool = True, missing: str = "", damaged: str = "") -> int:
    print(json.dumps({"database": database, "collection": collection, "missing": missing, "damaged": damaged}))
    return 0


def _line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _segment_dirs(root: Path) -> list[Path]:
    """Chroma's segment folders: those named by a UUID (citebot's own sidecar folder is not)."""
    out = []
    for path in root.iterdir():
        try:
            uuid.UUID(path.name)
        except ValueError:
            continue
        if path.is_dir():
            out.append(path)
    return out


def _files_state(root: Path) -> dict[str, tuple[int, int]]:
    state = {}
    for folder in _segment_dirs(root):
        for path in folder.iterdir():
            info = path.stat()
            state[f"{folder.name}/{path.name}"] = (info.st_size, info.st_mtime_ns)
    return state


@contextmanager
def _read_transaction(database: Path) -> Iterator[bool]:
    """Hold a read transaction on ``database`` (SQLite's shared lock: no writer can change the file until it
    ends, so a copy of the file is one committed state); yields False when no reader may read it now because
    a writer died mid-transaction (a hot journal only a writer can roll back): then the file and its journal
    are copied as they are, and the copy rolls itself back when Chroma opens it.

    Read-only, so it works on read-only media. chromadb 1.5 keeps SQLite's rollback journal (no WAL), which
    is what makes a plain copy under the lock whole (tests/index/test_faults_store.py checks the mode)."""
    uri = f"file:{quote(str(database))}?mode=ro"
    con = sqlite3.connect(uri, uri=True, timeout=LOCK_WAIT_S, isolation_level=None)
    try:
        con.execute("BEGIN")
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_READONLY_ROLLBACK":
                raise
            yield False
            return
        yield True
    finally:
        con.close()


def _copy(source: Path, target: Path) -> None:
    """Copy the database and the vector segments of ``source`` into the empty folder ``target``, as one state.

    The database is copied under a read transaction; the vector files, which a writer rewrites without
    SQLite's locks, are copied first and copied again whenever they changed meanwhile. Files that are newer
    than the database copy are harmless: Chroma replays from its log whatever a segment has not persisted.
    """
    for _ in range(COPY_ATTEMPTS):
        with _read_transaction(source / DATABASE) as locked:
            before = _files_state(source)
            for folder in _segment_dirs(source):
                shutil.copytree(folder, target / folder.name)
            shutil.copyfile(source / DATABASE, target / DATABASE)
            journal = source / f"{DATABASE}-journal"
            if not locked and journal.exists():
                shutil.copyfile(journal, target / journal.name)
            after = _files_state(source)
        if before == after:
            return
        for path in target.iterdir():
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    raise _Changing(f"its vector files changed during each of {COPY_ATTEMPTS} copies")


def _vector_segment(root: Path, collection: str, private: bool) -> tuple[str | None, bool, int | None]:
    """The vector segment of ``collection``, whether it has persisted vectors, and the collection's vector
    dimension (None before its first vector), from chromadb 1.5's schema.

    A ``private`` copy is opened for writing, so that a journal copied with it is rolled back; anything else
    is only read."""
    uri = f"file:{quote(str(root / DATABASE))}" + ("" if private else "?mode=ro")
    con = sqlite3.connect(uri, uri=True, timeout=LOCK_WAIT_S)
    try:
        row = con.execute(
            "SELECT s.id, (SELECT count(*) FROM max_seq_id m WHERE m.segment_id = s.id), c.dimension FROM segments s "
            "JOIN collections c ON c.id = s.collection WHERE c.name = ? AND s.scope = 'VECTOR'",
            (collection,),
        ).fetchone()
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_READONLY_ROLLBACK":
            raise _Unknown from exc
        raise
    finally:
        con.close()
    if row is None:
        return None, False, None
    return str(row[0]), bool(row[1]), None if row[2] is None else int(row[2])


def _graph_flaw(folder: Path) -> str:
    """What in the persisted HNSW graph of one vector segment would send Chroma's native loader or search out
    of bounds (it trusts every count and id it reads, and segfaults on garbage), or "" when nothing does.

    The format is chromadb 1.5's (chroma-hnswlib, persistence version 1): ``header.bin`` holds the sizes,
    ``data_level0.bin`` one block per element (a link count, ``maxM0`` neighbour ids, the vector, the label),
    ``link_lists.bin`` each element's upper-level links (a byte length, then per level a count and ``maxM``
    ids). Checking every count and id costs ~10 ms per 20,000 vectors, once per opening.
    """
    import numpy as np

    header = (folder / "header.bin").read_bytes()
    if len(header) != HEADER_BYTES:
        return f"header.bin holds {len(header)} bytes, not {HEADER_BYTES}"
    (version, offset0, capacity, count, block, label_at, data_at, top_level, entry, max_m, max_m0, m, _mult,
     _ef) = struct.unpack(HEADER_FORMAT, header)
    if version != PERSISTENCE_VERSION:
        return f"header.bin says persistence version {version}, not {PERSISTENCE_VERSION}"
    links0 = 4 + 4 * max_m0
    if (offset0, data_at) != (0, links0) or label_at != block - 8 or not 0 < max_m <= max_m0 < 1 << 16 or \
            count > capacity or m != max_m:
        return "header.bin is inconsistent"
    if count == 0:  # an empty graph: no entry point yet (level -1)
        return ""
    if not 0 <= top_level < MAX_LEVEL or entry >= count:
        return "header.bin is inconsistent"
    level0 = np.fromfile(folder / "data_level0.bin", dtype=np.uint8, count=count * block)
    if level0.size < count * block:
        return f"data_level0.bin holds {level0.size} bytes, {count} elements need {count * block}"
    blocks = level0.reshape(count, block)
    sizes = blocks[:, :2].copy().view(np.uint16).ravel()  # the low 16 bits of each link count
    ids = blocks[:, 4:links0].copy().view(np.uint32)
    if int(sizes.max()) > max_m0:
        return f"data_level0.bin: an element claims {int(sizes.max())} links, at most {max_m0} fit"
    used = np.arange(max_m0)[None, :] < sizes[:, None]
    if used.any() and int(ids[used].max()) >= count:
        return f"data_level0.bin: a link points past the {count} elements"
    if (folder / "length.bin").stat().st_size < count * 4:
        return "length.bin is shorter than the elements it describes"
    upper = np.fromfile(folder / "link_lists.bin", dtype=np.uint8)
    per_level = 4 + 4 * max_m
    at = 0
    for _ in range(count):
        if at + 4 > upper.size:
            return "link_lists.bin ends early"
        length = int(upper[at : at + 4].view(np.uint32)[0])
        at += 4
        if length % per_level or length // per_level > top_level or at + length > upper.size:
            return "link_lists.bin: an element's upper-level links do not fit"
        if length:
            levels = upper[at : at + length].view(np.uint32).reshape(-1, 1 + max_m)
            if int(levels[:, 0].max()) > max_m:
                return "link_lists.bin: an element claims more links than fit"
            used_up = np.arange(max_m)[None, :] < levels[:, :1]
            if used_up.any() and int(levels[:, 1:][used_up].max()) >= count:
                return f"link_lists.bin: a link points past the {count} elements"
        at += length
    return ""


def _element_count(folder: Path) -> int:
    """How many vectors the segment's header (already checked by _graph_flaw) says it holds."""
    return int(struct.unpack(HEADER_FORMAT, (folder / "header.bin").read_bytes())[3])


def _open_and_query(root: Path, collection: str, dimension: int | None) -> None:
    """Count the collection and search it once, as a citebot query does: the count makes Chroma load the
    vector index and replay its log into it (where a damaged index crashes), the search reads the index."""
    probe = None if dimension is None else [1.0] + [0.0] * (dimension - 1)
    try:
        _open_with_bindings(root, collection, probe)
    except (ImportError, AttributeError, TypeError):  # the bindings moved: chromadb's public API does the same
        _open_with_api(root, collection, probe)


def _open_with_bindings(root: Path, collection: str, probe: list[float] | None) -> None:
    """Through chromadb's native bindings, as chromadb.api.rust does (1.5): ~0.1 s to import, not ~1.5 s."""
    import chromadb_rust_bindings as rb

    config = rb.SqliteDBConfig(url=str(root / DATABASE), hash_type=rb.MigrationHash.MD5,
                               migration_mode=rb.MigrationMode.Apply)
    # As chromadb does: each cached HNSW index holds 5 files open.
    cache = resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 5
    bindings = rb.Bindings(allow_reset=False, sqlite_db_config=config, persist_path=str(root), hnsw_cache_size=cache)
    cid = str(bindings.get_collection(collection, TENANT, CHROMA_DATABASE).id)
    count = bindings.count(cid, TENANT, CHROMA_DATABASE)
    if count and probe is not None:
        bindings.query(cid, None, [probe], min(count, NEIGHBOURS), None, None, ["distances"], TENANT, CHROMA_DATABASE)


def _open_with_api(root: Path, collection: str, probe: list[float] | None) -> None:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=str(root), settings=Settings(anonymized_telemetry=False))
    col = client.get_collection(collection, embedding_function=None)
    count = col.count()
    if count and probe is not None:
        col.query(query_embeddings=[probe], n_results=min(count, NEIGHBOURS),  # type: ignore[arg-type]
                  include=["distances"])


if __name__ == "__main__":
    sys.exit(main(sys.argv))

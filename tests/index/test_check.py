"""``citebot check [--repair]`` and the self-repair of ``citebot index`` (issue 12, rows 1, 2 and 6).

Each damage is made on disk behind citebot's back, as a crash, a bad backup or a stray ``rm`` would leave it;
then ``ask`` must say so in one line (never a traceback, never a silent "No answer"), ``check`` must name the
problem and what a repair does, and the next ``index`` (or ``check --repair``) must put it right.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from citebot.index import Engine, Settings, state
from citebot.index.store import StoredChunk

from .helpers import assert_one_line_error, clean_env, cli, hash_settings, refuse_access, run_cli, write_files

CORPUS = {
    "cranes.md": "# Cranes\n\nThe harbour cranes lift containers from the ships.\nEach crane has a cabin.\n",
    "bread.txt": "Sourdough needs a starter fed with flour and water.\nBake it in a hot oven.\n",
    "notes/trains.txt": "The night train leaves at ten.\nSleeper cabins have four berths.\n",
}
QUESTION = "harbour cranes lift containers"
ENV = clean_env(CITEBOT_MODEL="hash")
EXIT_DAMAGED = 6  # documented in citebot.index.cli


def _indexed(tmp_path: Path, files: dict[str, str] | None = None, env: dict[str, str] = ENV) -> tuple[Path, Path]:
    """A corpus indexed with the hash embedder through the CLI, in process; (docs, db)."""
    docs = write_files(tmp_path / "docs", files or CORPUS)
    db = tmp_path / "db"
    proc = cli("index", docs, "--db", db, env=env)
    assert proc.returncode == 0, proc.stderr
    return docs, db


def _state(db: Path) -> Path:
    return db / "citebot"


def _settings(tmp_path: Path) -> Settings:
    return hash_settings(tmp_path)


def _answers(db: Path, question: str = QUESTION, source: str = "cranes.md", env: dict[str, str] = ENV) -> None:
    proc = cli("ask", question, "--db", db, env=env)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert source in proc.stdout.splitlines()[0], proc.stdout


def _healthy(db: Path, env: dict[str, str] = ENV) -> None:
    proc = cli("check", "--db", db, env=env)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr


def _check_finds(db: Path, *fragments: str, env: dict[str, str] = ENV) -> list[str]:
    """``check`` exits with the damaged code and prints a problem line holding each fragment, no traceback."""
    proc = cli("check", "--db", db, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == EXIT_DAMAGED, (proc.returncode, proc.stdout, proc.stderr)
    problems = [line for line in proc.stdout.splitlines() if line.startswith("problem: ")]
    assert problems, proc.stdout
    for fragment in fragments:
        assert any(fragment in line for line in problems), (fragment, proc.stdout)
    return problems


# --- row 1: a damaged manifest ---------------------------------------------------------------------------------

DAMAGED_MANIFESTS = {
    "truncated": lambda text: text[: len(text) // 2],
    "garbage": lambda text: "\x00\x17 not json at all \xff",
    "a list": lambda text: "[]",
    "files as a list": lambda text: json.dumps({**json.loads(text), "files": list(json.loads(text)["files"])}),
    "chunks not a list": lambda text: json.dumps(
        {**json.loads(text), "files": {k: {**v, "chunks": 7} for k, v in json.loads(text)["files"].items()}}
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGED_MANIFESTS))
def test_damaged_manifest_is_reported_then_index_starts_over_keeping_it_aside(tmp_path: Path, damage: str) -> None:
    docs, db = _indexed(tmp_path)
    manifest = _state(db) / state.MANIFEST
    damaged = DAMAGED_MANIFESTS[damage](manifest.read_text(encoding="utf-8"))
    manifest.write_text(damaged, encoding="utf-8")

    assert_one_line_error(cli("ask", QUESTION, "--db", db, env=ENV), EXIT_DAMAGED, "manifest", "citebot check --repair")
    assert_one_line_error(cli("stats", "--db", db, env=ENV), EXIT_DAMAGED, "manifest")
    _check_finds(db, "manifest")

    proc = cli("index", docs, "--db", db, "--json", env=ENV)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["added"] == 3 and report["embedded"] == 0, "every file again, every vector reused from Chroma"
    aside = list(_state(db).glob(f"{state.MANIFEST}.damaged-*"))
    assert len(aside) == 1 and aside[0].read_text(encoding="utf-8") == damaged
    assert any("manifest" in line and aside[0].name in line for line in report["repaired"]), report
    _answers(db)
    _healthy(db)
    in_chroma = set(Engine(_settings(tmp_path).model_copy(update={"db_path": db})).store.all_ids())
    assert in_chroma == set(state.load(_state(db)).chunk_ids()), "nothing the damaged manifest owned is left over"


def test_check_repair_starts_over_from_a_damaged_manifest(tmp_path: Path) -> None:
    """The manifest cannot say which folder was indexed: ``check --repair DIR`` is told."""
    docs, db = _indexed(tmp_path)
    (_state(db) / state.MANIFEST).write_text('{"generation": 1, "files": {"a', encoding="utf-8")
    proc = cli("check", "--repair", docs, "--db", db, env=ENV)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert any(line.startswith("repaired: ") and "manifest" in line for line in proc.stdout.splitlines()), proc.stdout
    _answers(db)


def test_a_manifest_deleted_beside_a_full_collection_is_noticed_and_orphans_collected(tmp_path: Path) -> None:
    docs, db = _indexed(tmp_path)
    (_state(db) / state.MANIFEST).unlink()
    (docs / "bread.txt").unlink()  # its chunks stay in Chroma with nothing owning them
    _check_finds(db, "manifest")
    proc = cli("index", docs, "--db", db, "--json", env=ENV)
    assert proc.returncode == 0, proc.stderr
    settings = _settings(tmp_path).model_copy(update={"db_path": db})
    assert set(Engine(settings).store.all_ids()) == set(state.load(_state(db)).chunk_ids())
    _healthy(db)


# --- row 2: a lost or damaged keyword index ---------------------------------------------------------------------


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x93NUMPY garbage \x00\xff" * 7)


KEYWORD_DAMAGE = {
    "folder deleted": lambda folder: shutil.rmtree(folder),
    "ids garbage": lambda folder: _garbage(folder / "ids.json"),
    "ids emptied": lambda folder: (folder / "ids.json").write_text("[]"),
    "bm25 arrays garbage": lambda folder: [_garbage(p) for p in (folder / "bm25").glob("*.npy")],
    "bm25 params garbage": lambda folder: _garbage(folder / "bm25" / "params.index.json"),
}


@pytest.mark.parametrize("damage", list(KEYWORD_DAMAGE))
def test_damaged_keyword_index_is_reported_then_rebuilt_by_index(tmp_path: Path, damage: str) -> None:
    docs, db = _indexed(tmp_path)
    generation = state.load(_state(db)).generation
    KEYWORD_DAMAGE[damage](state.keyword_dir(_state(db), generation))

    assert_one_line_error(cli("ask", QUESTION, "--db", db, env=ENV), EXIT_DAMAGED, "keyword index")
    _check_finds(db, "keyword index")

    proc = cli("index", docs, "--db", db, "--json", env=ENV)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["embedded"] == 0, "the stored chunks are enough to rebuild it"
    assert any("keyword index" in line for line in report["repaired"]), report
    _answers(db)
    _healthy(db)


def test_check_repair_rebuilds_the_keyword_index_from_stored_chunks_without_the_folder(tmp_path: Path) -> None:
    docs, db = _indexed(tmp_path)
    shutil.rmtree(state.keyword_dir(_state(db), state.load(_state(db)).generation))
    shutil.rmtree(docs)  # the repair needs only what Chroma holds
    proc = cli("check", "--repair", "--db", db, "--json", env=ENV)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    result = json.loads(proc.stdout)
    assert result["healthy"] and result["problems"] == [], result
    assert any("keyword index" in line for line in result["repaired"]), result
    _answers(db)


# --- row 6: chunks or vectors lost from Chroma, found by id --------------------------------------------------------


def _orphans(n: int, dim: int = 256) -> list[StoredChunk]:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    return [
        StoredChunk(f"orphan{i:05d}", "elsewhere.txt", 1, 1, "an orphan", [(1, [])], "", f"h{i}",
                    embedding=vectors[i] / np.linalg.norm(vectors[i]))
        for i in range(n)
    ]


def test_chunks_deleted_by_id_are_found_though_the_count_stays_high(tmp_path: Path) -> None:
    docs, db = _indexed(tmp_path)
    settings = _settings(tmp_path).model_copy(update={"db_path": db})
    engine = Engine(settings)
    manifest = state.load(_state(db))
    lost = manifest.files["cranes.md"].chunks
    engine.store.upsert(_orphans(len(manifest.chunk_ids()) + 5))  # the count cannot tell anything is missing
    engine.store.delete(lost)
    assert engine.store.count() > len(manifest.chunk_ids())

    _check_finds(db, f"{len(lost)} indexed chunk(s) of 1 file(s)")
    proc = cli("index", docs, "--db", db, "--json", env=ENV)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["updated"], report["unchanged"], report["embedded"]) == (1, 2, len(lost)), report
    _answers(db)
    _healthy(db)


def test_check_repair_re_embeds_lost_chunks_from_the_indexed_folder(tmp_path: Path) -> None:
    docs, db = _indexed(tmp_path)
    engine = Engine(_settings(tmp_path).model_copy(update={"db_path": db}))
    engine.store.delete(state.load(_state(db)).files["cranes.md"].chunks)
    proc = cli("check", "--repair", "--db", db, env=ENV)  # no folder given: the manifest's root
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert any(line.startswith("repaired: ") for line in proc.stdout.splitlines()), proc.stdout
    _answers(db)


# Enough chunks (1,200 with 32-token chunks) that Chroma moves vectors out of its log into the HNSW segment folder,
# which it does once a thousand have arrived; with fewer, deleting the folder loses nothing.
BIG = {
    f"part{i:02d}.txt": "".join(f"Section {i} line {j} tells of harbour cranes number {i * 100 + j}.\n\n"
                                for j in range(60))
    for i in range(40)
}
SMALL_CHUNKS = {**ENV, "CITEBOT_CHUNK_TOKENS": "32"}


def _vector_segments(db: Path) -> list[Path]:
    return [p for p in db.iterdir() if p.is_dir() and (p / "header.bin").exists()]


@pytest.fixture(scope="module")
def big_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """BIG indexed once for the module, with its vectors in an HNSW segment folder; tests damage copies."""
    docs, db = _indexed(tmp_path_factory.mktemp("big"), BIG, SMALL_CHUNKS)
    assert _vector_segments(db), "the corpus is large enough for an HNSW segment on disk"
    return docs, db


def _copy(big_index: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    docs, template = big_index
    return docs, Path(shutil.copytree(template, tmp_path / "db"))


BIG_QUESTION = ("Section 7 line 3 harbour cranes number 703", "part07.txt")


def test_vectors_lost_with_the_hnsw_folder_are_found_by_id_and_re_embedded(
    big_index: tuple[Path, Path], tmp_path: Path
) -> None:
    docs, db = _copy(big_index, tmp_path)
    for folder in _vector_segments(db):
        shutil.rmtree(folder)

    _check_finds(db, "vector", env=SMALL_CHUNKS)
    proc = cli("index", docs, "--db", db, "--json", env=SMALL_CHUNKS)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["embedded"] > 0 and report["updated"] > 0, report
    _healthy(db, env=SMALL_CHUNKS)
    _answers(db, *BIG_QUESTION, env=SMALL_CHUNKS)


def test_check_repair_sets_an_unreadable_vector_index_aside_and_re_embeds(
    big_index: tuple[Path, Path], tmp_path: Path
) -> None:
    _, db = _copy(big_index, tmp_path)
    (segment,) = _vector_segments(db)
    (segment / "index_metadata.pickle").write_bytes(b"garbage")

    _check_finds(db, "Chroma", env=SMALL_CHUNKS)
    proc = cli("check", "--repair", "--db", db, env=SMALL_CHUNKS)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert any("vector index aside" in line for line in proc.stdout.splitlines()), proc.stdout
    assert [p for p in db.iterdir() if p.name.startswith(f"{segment.name}{state.DAMAGED}")], "kept, not deleted"
    _answers(db, *BIG_QUESTION, env=SMALL_CHUNKS)


def test_check_repair_leaves_a_chroma_it_cannot_open_as_it_found_it(tmp_path: Path) -> None:
    _, db = _indexed(tmp_path)
    (db / "chroma.sqlite3").write_bytes(b"not a database" * 100)
    before = sorted(p.name for p in db.iterdir())
    proc = cli("check", "--repair", "--db", db, env=ENV)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == EXIT_DAMAGED, (proc.stdout, proc.stderr)
    assert any(line.startswith("problem: Chroma at") for line in proc.stdout.splitlines()), proc.stdout
    assert sorted(p.name for p in db.iterdir()) == before


# --- the command itself -------------------------------------------------------------------------------------------


def test_check_of_a_healthy_index_says_so(tmp_path: Path) -> None:
    _, db = _indexed(tmp_path)
    proc = cli("check", "--db", db, "--json", env=ENV)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["healthy"] and result["problems"] == [] and result["repaired"] == []
    assert (result["generation"], result["files"]) == (1, 3)
    text = cli("check", "--db", db, env=ENV)
    assert text.returncode == 0 and "healthy" in text.stdout


def test_check_with_nothing_indexed_is_a_one_line_error(tmp_path: Path) -> None:
    assert_one_line_error(cli("check", "--db", tmp_path / "db", env=ENV), 5, "nothing is indexed")


def test_check_help_documents_the_exit_codes() -> None:
    proc = cli("check", "--help", env=ENV)
    assert proc.returncode == 0
    assert "--repair" in proc.stdout and "6" in proc.stdout


def test_installed_citebot_check_reports_damage_without_a_traceback(tmp_path: Path) -> None:
    _, db = _indexed(tmp_path)
    (_state(db) / state.MANIFEST).write_text("[]", encoding="utf-8")
    proc = run_cli("check", "--db", db, env=ENV)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == EXIT_DAMAGED, (proc.stdout, proc.stderr)
    assert proc.stdout.startswith("problem: ") and "manifest" in proc.stdout


def test_index_of_a_healthy_index_repairs_nothing(tmp_path: Path) -> None:
    docs, db = _indexed(tmp_path)
    proc = cli("index", docs, "--db", db, "--json", env=ENV)
    report = json.loads(proc.stdout)
    assert (report["unchanged"], report["embedded"], report["generation"], report["repaired"]) == (3, 0, 1, [])


def test_lost_chunks_of_a_file_that_cannot_be_read_now_leave_a_whole_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chroma lost the chunks of a file below a folder that cannot be read now: the file cannot be embedded
    again yet, but what is committed must still be whole (readers refuse a keyword index that does not match),
    and the first run that can read it indexes it again."""
    settings = hash_settings(tmp_path)
    write_files(settings.docs_dir, CORPUS)
    Engine(settings).index()
    engine = Engine(settings)
    engine.store.delete(state.load(settings.resolved_state_dir()).files["notes/trains.txt"].chunks)
    with monkeypatch.context() as patch:
        refuse_access(patch, "trains.txt", "notes")
        report = engine.index()
    assert report.embedded == 0 and report.removed == 0
    assert engine.check().healthy
    assert engine.ask("harbour cranes containers").hits[0].source == "cranes.md"
    report = engine.index()
    assert (report.updated, report.embedded) == (1, 1)
    assert engine.ask("night train sleeper berths", 1).hits[0].source == "notes/trains.txt"

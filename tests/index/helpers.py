"""Helpers shared by the index tests: corpora of our own, a spying embedder, running the CLI in this process
(``cli``) or as the installed console script in a fresh one (``run_cli``)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from citebot.index import Engine, HashEmbedder, Settings, state
from citebot.index.store import StoredChunk

BIN = Path(sys.executable).parent
CITEBOT = BIN / "citebot"
CHROMA = BIN / "chroma"
REAL_MODEL = "all-MiniLM-L6-v2 (bundled)"  # the bundled model's name in manifests and stats


def write_files(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Create ``root`` with ``files`` (relative path -> text or bytes); returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
    return root


def hash_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for fast tests: the deterministic hash embedder, a local Chroma under ``tmp_path``, answers
    never cautious (as ``clean_env`` gives the CLI)."""
    values: dict[str, Any] = {"db_path": tmp_path / "db", "docs_dir": tmp_path / "docs", "model": "hash",
                              "sure_relevance": 0.0}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class SpyEmbedder(HashEmbedder):
    """The hash embedder, counting what it is asked to embed; can fail on its ``fail_on``-th passage batch."""

    def __init__(self, fail_on: int | None = None, name: str | None = None) -> None:
        super().__init__()
        if name:
            self.name = name
        self.fail_on = fail_on
        self.batches: list[list[str]] = []
        self.queries = 0

    @property
    def passages(self) -> list[str]:
        return [t for batch in self.batches for t in batch]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.queries += len(texts)
        return super().embed_queries(texts)

    def embed_passages(
        self, texts: Sequence[str], line_spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        if self.fail_on is not None and len(self.batches) + 1 == self.fail_on:
            raise RuntimeError(f"injected embedder failure on batch {self.fail_on}")
        self.batches.append(list(texts))
        return super().embed_passages(texts, line_spans)


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any CITEBOT_* setting of the developer's, plus ``extra``.

    Answers are never cautious (CITEBOT_SURE_RELEVANCE=0): the test corpora are a few short files, whose
    answers score below the caution threshold (docs/guide.md); the tests of the caution set it themselves."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env.update(HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False", TOKENIZERS_PARALLELISM="false",
               CITEBOT_SURE_RELEVANCE="0")
    env.update(extra)
    return env


def run_cli(
    *args: str | Path, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``citebot`` console script in a fresh process: for what only a separate process shows
    (the entry point itself, kills, signals, a closed pipe, two writers at once); ``cli`` for the rest."""
    return subprocess.run(
        [str(CITEBOT), *map(str, args)], env=dict(env) if env is not None else clean_env(), cwd=cwd,
        capture_output=True, text=True, timeout=timeout, check=False,
    )


@dataclass(frozen=True)
class Result:
    """What a ``citebot`` run left: its exit code and everything it wrote (the fields of ``CompletedProcess``)."""

    returncode: int
    stdout: str
    stderr: str


Ran = Result | subprocess.CompletedProcess[str]


def cli(*args: str | Path, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Result:
    """``citebot ARGS`` through ``citebot.index.cli.main`` in this process, as a fresh process would run it.

    A console-script launch costs 1-2.5 s (Python start, imports of torch and chromadb, the model); in process
    it costs what the command itself does. What a fresh process would not share is set up and put back around
    the call: the environment is exactly ``env`` (default ``clean_env()``), the working directory ``cwd``, the
    cached settings are read again, stdout and stderr are captured, the CLI's own logging setup takes effect
    (pytest's handlers are set aside so that ``-v`` logs land on the captured stderr), and chromadb's per-process
    cache of local directories starts empty, so the run reads the directory from disk as a new process would.
    Exceptions the CLI does not turn into an exit code propagate: the test fails with the traceback.
    """
    from citebot.index.cli import main
    from citebot.index.settings import get_settings

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    root_logger = logging.getLogger()
    saved_handlers, saved_level = root_logger.handlers[:], root_logger.level
    os.environ.clear()
    os.environ.update(env if env is not None else clean_env())
    get_settings.cache_clear()
    root_logger.handlers = []
    try:
        if cwd is not None:
            os.chdir(cwd)
        with _fresh_chroma_cache(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(arg) for arg in args])
            except SystemExit as exc:  # argparse's usage errors (2) and --help (0), as the interpreter exits
                if exc.code is None or isinstance(exc.code, int):
                    code = exc.code or 0
                else:
                    print(exc.code, file=sys.stderr)
                    code = 1
    finally:
        root_logger.handlers = saved_handlers
        root_logger.setLevel(saved_level)
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        get_settings.cache_clear()
    # The CLI closes stderr when its reader has gone (a closed pipe): nothing more can be read from it then.
    return Result(code, out.getvalue(), "" if err.closed else err.getvalue())


@contextlib.contextmanager
def _fresh_chroma_cache() -> Iterator[None]:
    """chromadb keeps one "system" per local directory per process and shares it between clients: a new
    process starts without any. The run gets an empty cache of its own; the systems it opened are stopped
    afterwards and the test process's cache (its long-lived engines) is put back untouched."""
    from chromadb.api.shared_system_client import SharedSystemClient as shared

    saved = shared._identifier_to_system, shared._identifier_to_refcount
    shared._identifier_to_system, shared._identifier_to_refcount = {}, {}
    try:
        yield
    finally:
        opened = shared._identifier_to_system
        shared._identifier_to_system, shared._identifier_to_refcount = saved
        for system in opened.values():
            with contextlib.suppress(Exception):
                system.stop()


def assert_one_line_error(proc: Ran, code: int, *fragments: str) -> str:
    """A user error: the given exit code, nothing on stdout, one ``citebot: ...`` line on stderr."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("citebot: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def ask_json(engine: Engine, questions: Sequence[str], k: int = 3) -> list[dict[str, object]]:
    return [engine.ask(q, k).to_json() for q in questions]


def committed(settings: Settings) -> state.Manifest:
    manifest = state.load(settings.resolved_state_dir())
    assert manifest is not None, "nothing committed"
    return manifest


def chunk_lines_by_source(engine: Engine) -> dict[str, list[str]]:
    """Every displayed line of every committed chunk, per file, read back from Chroma."""
    ids = committed(engine.settings).chunk_ids()
    out: dict[str, list[str]] = {}
    for chunk in engine.store.get(ids):
        out.setdefault(chunk.source, []).extend(chunk.text.split("\n"))
    return out


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def refuse_access(monkeypatch: pytest.MonkeyPatch, file_name: str, folder_name: str) -> None:
    """Make opening ``file_name`` and listing ``folder_name`` fail with EACCES, as the kernel would for
    another user; needed because root reads anything whatever its permission bits."""
    real_open, real_scandir = Path.open, os.scandir

    def refusing_open(self: Path, *args: object, **kwargs: object):  # noqa: ANN202
        if self.name == file_name:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    def refusing_scandir(path: object):  # noqa: ANN202
        if str(path).endswith(folder_name):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", refusing_open)
    monkeypatch.setattr(os, "scandir", refusing_scandir)


@dataclass(frozen=True)
class Crowd:
    """Vectors for a search past untrusted chunks: ``committed`` ones, ``crowd`` nearer ``target`` than any of
    them, and the ids of the nearest committed ones, found exactly (``nearest`` of them must be these)."""

    target: np.ndarray
    committed: list[StoredChunk]
    crowd: list[StoredChunk]
    exact: list[str]

    @property
    def trusted(self) -> set[str]:
        return {c.id for c in self.committed}


def crowd(seed: int, committed: int = 1100, crowded: int = 2000, n: int = 5) -> Crowd:
    rng = np.random.default_rng(seed)
    target = np.zeros(8, dtype=np.float32)
    target[0] = 1.0
    far = rng.normal(size=(committed, 8)).astype(np.float32)
    far /= np.linalg.norm(far, axis=1, keepdims=True)
    near = target + rng.normal(scale=0.05, size=(crowded, 8)).astype(np.float32)
    near /= np.linalg.norm(near, axis=1, keepdims=True)

    def chunks(prefix: str, vectors: np.ndarray) -> list[StoredChunk]:
        return [StoredChunk(f"{prefix}{i}", "a.txt", 1, 1, "x", [(1, [])], "", f"{prefix}{i}", None, v)
                for i, v in enumerate(vectors)]

    order = np.argsort(-(far @ target), kind="stable")
    return Crowd(target, chunks("c", far), chunks("u", near), [f"c{i}" for i in order[:n]])

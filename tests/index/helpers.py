"""Helpers shared by the index tests: corpora of our own, a spying embedder, running the installed CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from citebot.index import Engine, HashEmbedder, Settings, state

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
    """Settings for fast tests: the deterministic hash embedder, a local Chroma under ``tmp_path``."""
    values: dict[str, Any] = {"db_path": tmp_path / "db", "docs_dir": tmp_path / "docs", "model": "hash"}
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
    """The test process's environment without any CITEBOT_* setting of the developer's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env.update(HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False", TOKENIZERS_PARALLELISM="false")
    env.update(extra)
    return env


def run_cli(
    *args: str | Path, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``citebot`` console script."""
    return subprocess.run(
        [str(CITEBOT), *map(str, args)], env=dict(env) if env is not None else clean_env(), cwd=cwd,
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, *fragments: str) -> str:
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

"""Hostile input (issue 12, rows 10, 11 and 13): a folder nested 1,000 levels deep, malformed `citebot eval`
files, and a terminal that cannot show the documents' characters. Each ends in an answer or one clear line."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from citebot.index import Engine
from citebot.index.cli import main
from citebot.index.settings import get_settings

from .helpers import assert_one_line_error, clean_env, hash_settings, run_cli, write_files

DEPTH = 1000  # the row of issue 12: deeper than Python's default recursion limit (1000 frames)
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY


def _nest(root: Path, name: str, depth: int, leaf: str) -> None:
    """``root/name/name/.../leaf.txt`` ``depth`` folders deep, made relative to an open folder at each step:
    a path name past the system's limit could not be made otherwise (nor by the recursive ``os.makedirs``)."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, DIR_FLAGS)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            fd, parent = os.open(name, DIR_FLAGS, dir_fd=fd), fd
            os.close(parent)
        leaf_fd = os.open("leaf.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf_fd, leaf.encode())
        os.close(leaf_fd)
    finally:
        os.close(fd)


def _unnest(root: Path, name: str) -> None:
    """Remove what ``_nest`` made, deepest first and without recursion (``shutil.rmtree`` recurses on 3.11)."""
    fds = [os.open(root, DIR_FLAGS)]
    try:
        while True:
            try:
                fds.append(os.open(name, DIR_FLAGS, dir_fd=fds[-1]))
            except FileNotFoundError:
                break
        with contextlib.suppress(FileNotFoundError):  # a _nest that failed half way
            os.unlink("leaf.txt", dir_fd=fds[-1])
        while len(fds) > 1:
            os.close(fds.pop())
            os.rmdir(name, dir_fd=fds[-1])
    finally:
        for fd in fds:
            os.close(fd)


@pytest.fixture
def docs(tmp_path: Path) -> Iterator[Path]:
    root = write_files(tmp_path / "docs", {"top.txt": "The harbour crane lifts forty containers an hour.\n"})
    yield root
    for name in ("d", "deep-folder"):
        if (root / name).exists():
            _unnest(root, name)


def test_folder_nested_a_thousand_levels_is_indexed(tmp_path: Path, docs: Path) -> None:
    _nest(docs, "d", DEPTH, "The lighthouse keeper climbs one hundred and twelve steps.\n")
    engine = Engine(hash_settings(tmp_path))
    report = engine.index()
    assert (report.added, report.skipped) == (2, [])
    deepest = "d/" * DEPTH + "leaf.txt"
    assert {h.source for h in engine.ask("lighthouse keeper steps", 5).hits} >= {deepest}


def test_folder_nested_past_the_path_limit_is_one_clear_skip(tmp_path: Path, docs: Path) -> None:
    _nest(docs, "deep-folder", DEPTH, "Out of reach.\n")  # 12,000 characters: past Linux's 4,096
    report = Engine(hash_settings(tmp_path)).index()
    assert report.added == 1, "the rest of the folder is indexed"
    assert len(report.skipped) == 1, report.skipped
    skipped = report.skipped[0]
    assert skipped.source.startswith("deep-folder/deep-folder/") and "path too long" in skipped.reason, skipped


# --- citebot eval: every malformed file is one line naming the file and the line, exit code 2 ---------------

GOOD = '{"question": "crane", "gold": [{"source": "a.txt", "line": 1}]}\n'


@pytest.fixture
def run_eval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # noqa: ANN201
    """``citebot eval FILE`` in this process over an empty hash-embedder index; (exit code, stdout, stderr)."""
    monkeypatch.setenv("CITEBOT_MODEL", "hash")
    monkeypatch.setenv("CITEBOT_DB_PATH", str(tmp_path / "db"))
    get_settings.cache_clear()

    def run(content: bytes) -> tuple[int, str, str]:
        path = tmp_path / "questions.jsonl"
        path.write_bytes(content)
        code = main(["eval", str(path)])
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (GOOD.encode() + b'{"question": "caf\xe9"}\n', ["line 2", "not UTF-8"]),
        (b"", ["no questions"]),
        (b"\n  \n", ["no questions"]),
        (GOOD.encode() + b"\n[1, 2]\n", ["line 3", "not a JSON object"]),
        (b'"just a string"\n', ["line 1", "not a JSON object"]),
        (b'{"question": "ok"}\n{"question": \n', ["line 2", "not JSON"]),
        (b'{"gold": []}\n', ["line 1", '"question"']),
        (b'{"question": 42}\n', ["line 1", '"question" must be a non-empty string']),
        (b'{"question": null}\n', ["line 1", '"question" must be a non-empty string']),
        (b'{"question": ["a", "b"]}\n', ["line 1", '"question" must be a non-empty string']),
        (b'{"question": "  "}\n', ["line 1", '"question" must be a non-empty string']),
        (b'{"question": "q", "gold": "a.txt:3"}\n', ["line 1", '"gold" must be a list']),
        (b'{"question": "q", "gold": null}\n', ["line 1", '"gold" must be a list']),
        (b'{"question": "q", "gold": ["a.txt"]}\n', ["line 1", "gold 1"]),
        (b'{"question": "q", "gold": [{"source": "a.txt"}]}\n', ["line 1", "gold 1", '"line"']),
        (b'{"question": "q", "gold": [{"line": 3}]}\n', ["line 1", "gold 1", '"source"']),
        (b'{"question": "q", "gold": [{"source": 7, "line": 3}]}\n', ["line 1", '"source"']),
        (b'{"question": "q", "gold": [{"source": "a", "line": 1}, {"source": "a", "line": 0}]}\n',
         ["line 1", "gold 2", '"line"']),
        (b'{"question": "q", "gold": [{"source": "a", "line": "3"}]}\n', ["line 1", '"line"']),
        (b'{"question": "q", "gold": [{"source": "a", "line": true}]}\n', ["line 1", '"line"']),
        (b'{"question": "q", "gold": [{"source": "a", "line": 2.5}]}\n', ["line 1", '"line"']),
        (b"[" * 100_000 + b"\n", ["line 1"]),
    ],
    ids=[
        "invalid-utf8", "empty", "blank", "list-record", "string-record", "bad-json", "no-question",
        "question-int", "question-null", "question-list", "question-blank", "gold-string", "gold-null",
        "gold-item-string", "gold-no-line", "gold-no-source", "gold-source-int", "gold-line-zero",
        "gold-line-string", "gold-line-bool", "gold-line-float", "nested-too-deep",
    ],
)
def test_malformed_eval_file_is_one_line_naming_the_file_and_line(
    run_eval, tmp_path: Path, content: bytes, fragments: list[str]  # noqa: ANN001
) -> None:
    code, out, err = run_eval(content)
    assert (code, out) == (2, ""), (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("citebot: "), err
    for fragment in [str(tmp_path / "questions.jsonl"), *fragments]:
        assert fragment in lines[0], lines[0]


def test_well_formed_eval_file_still_scores(run_eval, tmp_path: Path) -> None:  # noqa: ANN001
    write_files(tmp_path / "docs", {"a.txt": "The harbour crane lifts forty containers an hour.\n"})
    Engine(hash_settings(tmp_path)).index()
    content = "\ufeff" + GOOD + "\n" + '{"question": "who won the cup", "gold": [], "id": 7}\r\n'
    code, out, err = run_eval(content.encode())
    assert code == 0, err
    assert "answerable: 1" in out and "unanswerable: 1" in out


def test_eval_of_a_folder_or_a_missing_file_is_one_line(
    run_eval, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: ANN001
) -> None:
    (tmp_path / "folder.jsonl").mkdir()
    for name, problem in (("folder.jsonl", "cannot read"), ("missing.jsonl", "no such file")):
        assert main(["eval", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"citebot: {problem}") and name in err and "\n" not in err, err


def test_console_script_reports_a_bad_eval_record_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "questions.jsonl"
    path.write_bytes(GOOD.encode() + b'{"question": 42}\n')
    proc = run_cli("eval", path, env=clean_env(CITEBOT_MODEL="hash", CITEBOT_DB_PATH=str(tmp_path / "db")))
    assert_one_line_error(proc, 2, str(path), "line 2", '"question"')


# --- a terminal that cannot show the documents' characters -------------------------------------------------

ACCENTED = "The café — naïve ☕ 𝄞 — serves espresso until midnight.\n"


@pytest.fixture
def accented_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A hash-embedder index of one file with non-ASCII text; the CITEBOT_* variables that reach it."""
    write_files(tmp_path / "docs", {"café.txt": ACCENTED})
    Engine(hash_settings(tmp_path)).index()
    env = {"CITEBOT_MODEL": "hash", "CITEBOT_DB_PATH": str(tmp_path / "db")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def _ask_on(stream: io.TextIOWrapper, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    """``citebot ask ARGS`` in this process, its output written to ``stream``; what it wrote, decoded."""
    monkeypatch.setattr(sys, "stdout", stream)
    assert main(["ask", "café espresso midnight", "-k", "1", *args]) == 0
    stream.flush()
    raw = stream.buffer.getvalue()  # type: ignore[attr-defined]
    return raw.decode(stream.encoding)


def test_ascii_terminal_gets_the_answer_without_a_traceback(accented_index: dict[str, str]) -> None:
    """The console script under PYTHONIOENCODING=ascii, as reported; the escapes are checked in process below."""
    env = clean_env(PYTHONIOENCODING="ascii", **accented_index)
    proc = run_cli("ask", "café espresso midnight", "-k", "1", env=env)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "caf\\u00e9.txt:1" in proc.stdout and "espresso until midnight" in proc.stdout


def test_ascii_output_escapes_what_it_cannot_show_and_json_stays_valid(
    accented_index: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _ask_on(io.TextIOWrapper(io.BytesIO(), encoding="ascii"), monkeypatch)
    assert "The caf\\u00e9 \\u2014 na\\u00efve \\u2615 \\ud834\\udd1e \\u2014 serves espresso" in text
    as_json = _ask_on(io.TextIOWrapper(io.BytesIO(), encoding="ascii"), monkeypatch, "--json")
    hit = json.loads(as_json)["hits"][0]  # the escapes are JSON's own: they stand for the characters
    assert (hit["source"], hit["text"]) == ("café.txt", ACCENTED.rstrip("\n"))


def test_unicode_output_gets_json_with_the_characters_themselves(
    accented_index: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _ask_on(io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), monkeypatch, "--json")
    assert "naïve ☕ 𝄞" in out
    assert json.loads(out)["hits"][0]["text"] == ACCENTED.rstrip("\n")

"""``citebot``, end to end: the bundled model, a real local Chroma, our own corpus.

Commands run in process through ``citebot.index.cli.main`` (``cli``), which is what the console script calls;
the tests marked "console script" launch the installed ``citebot`` itself, once for each thing only a fresh
process shows: the entry point indexing and answering, an exit code as the shell sees it, a closed pipe, an
output encoding that cannot show the answer.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from citebot.index import TENTATIVE_NOTE, Engine
from citebot.index.embedder import SentenceTransformerEmbedder

from .conftest import OFF_TOPIC, RealIndex
from .helpers import CITEBOT, REAL_MODEL, assert_one_line_error, clean_env, cli, load_jsonl, run_cli, write_files

HIT_KEYS = {"source", "line_start", "line_end", "line", "score", "text"}


def _file_lines(real: RealIndex, source: str) -> list[str]:
    return (real.docs / source).read_bytes().decode("utf-8-sig").splitlines()


def _check_hit(real: RealIndex, hit: dict[str, object], source: str | None = None) -> None:
    """A well-formed hit whose lines are the lines on disk; from ``source`` when the question has one answer."""
    assert set(hit) >= HIT_KEYS
    cited, start, end, line = hit["source"], hit["line_start"], hit["line_end"], hit["line"]
    assert isinstance(cited, str)
    if source is not None:
        assert cited == source, (cited, source)
    relative = PurePosixPath(cited)
    assert not relative.is_absolute() and ".." not in relative.parts, f"{cited!r}: relative to the indexed folder"
    assert isinstance(start, int) and isinstance(end, int) and isinstance(line, int)
    file_lines = _file_lines(real, cited)
    assert 1 <= start <= line <= end <= len(file_lines)
    assert isinstance(hit["score"], float) and isinstance(hit["text"], str)
    shown = str(hit["text"]).split("\n")
    assert all(text in file_lines[start - 1 : end] for text in shown), "every shown line is a line start..end on disk"
    assert hit["line_text"] == file_lines[line - 1]


@pytest.mark.slow
def test_index_reports_what_it_did(real_index: RealIndex) -> None:
    report = real_index.report
    assert (report["added"], report["updated"], report["removed"], report["skipped"]) == (4, 0, 0, [])
    assert isinstance(report["chunks"], int) and report["chunks"] == report["embedded"] > 0
    assert report["generation"] == 1


@pytest.mark.slow
def test_ask_json_cites_the_exact_line(real_index: RealIndex) -> None:
    proc = cli("ask", "How many hours of sun do tomatoes need?", "--json", "-k", "3",
                   "--db", real_index.db, env=real_index.env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {"question", "hits", "relevance", "tentative"}
    assert data["question"] == "How many hours of sun do tomatoes need?"
    assert 0 < data["relevance"] <= 1 and data["tentative"] is False, "the tests' environment never cautions"
    assert 1 <= len(data["hits"]) <= 3
    for hit in data["hits"]:
        _check_hit(real_index, hit)
    _check_hit(real_index, data["hits"][0], "garden.md")
    top = data["hits"][0]
    assert (top["source"], top["line"]) == ("garden.md", 5)
    assert top["line_text"] == "Tomatoes need at least six hours of direct sunlight every day."


@pytest.mark.slow
def test_ask_text_marks_the_answering_line(real_index: RealIndex) -> None:
    proc = cli("ask", "How long does the sourdough dough rise?", "--db", real_index.db, env=real_index.env)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("1. kitchen/bread.rst:") and "(line 5," in first
    assert ">    5  The dough rises overnight in a cool room, about twelve hours at 18 degrees." in proc.stdout


@pytest.mark.slow
def test_off_topic_question_abstains_with_exit_code_1(real_index: RealIndex) -> None:
    proc = cli("ask", OFF_TOPIC, "--json", "--db", real_index.db, env=real_index.env)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["question"], data["hits"], data["tentative"]) == (OFF_TOPIC, [], False)
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_eval_scores_our_questions(real_index: RealIndex, tmp_path: Path) -> None:
    questions = [
        {"question": "When does the night train to Vienna leave?", "gold": [{"source": "trains.txt", "line": 1}]},
        {"question": "How many cars does the ferry carry?", "gold": [{"source": "ferry.txt", "line": 2}]},
        {"question": "What pollinates the beans?", "gold": [{"source": "garden.md", "line": 16}]},
        {"question": "Can dogs travel on the night train?", "gold": [{"source": "trains.txt", "line": 6}]},
        {"question": OFF_TOPIC, "gold": []},
    ]
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in questions))
    hits_path = tmp_path / "hits.jsonl"
    proc = cli("eval", path, "--json", "--hits", hits_path, "--db", real_index.db, env=real_index.env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["answerable"], result["unanswerable"]) == (4, 1)
    assert result["hit@5"] == 1.0 and result["hit@1"] >= 0.75 and result["abstain"] == 1.0
    assert isinstance(result["query_ms_p50"], float)
    records = load_jsonl(hits_path)
    assert [r["question"] for r in records] == [q["question"] for q in questions]
    for question, record in zip(questions, records, strict=True):
        assert set(record) == {"question", "hits", "relevance", "tentative"}
        for hit in record["hits"]:
            _check_hit(real_index, hit)
        for gold in question["gold"]:  # the hits file shows hit@5 = 1.0 question by question
            assert any(h["source"] == gold["source"] and h["line_start"] <= gold["line"] <= h["line_end"]  # type: ignore[index]
                       for h in record["hits"][:5]), (question["question"], record["hits"][:5])
    assert records[-1]["hits"] == []


@pytest.mark.slow
def test_stats_loads_no_model(real_index: RealIndex) -> None:
    env = clean_env(CITEBOT_MODEL="/nonexistent/model")  # loading it would fail
    text = cli("stats", "--db", real_index.db, env=env)
    assert text.returncode == 0, text.stderr
    assert "files: 4" in text.stdout and f"model: {REAL_MODEL}" in text.stdout
    proc = cli("stats", "--json", "--db", real_index.db, env=env)
    stats = json.loads(proc.stdout)
    assert stats["files"] == 4 and stats["chunks"] == real_index.report["chunks"]
    assert stats["model"] == REAL_MODEL and stats["generation"] == 1
    assert stats["root"] == str(real_index.docs.resolve()) and stats["store"] == str(real_index.db)
    assert isinstance(stats["built_at"], str) and stats["built_at"].endswith("Z")


@pytest.mark.slow
def test_unchanged_real_index_re_run_loads_no_model(real_index: RealIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_loading(self: SentenceTransformerEmbedder) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(SentenceTransformerEmbedder, "_load", no_loading)
    report = Engine(real_index.settings()).index(real_index.docs)
    assert (report.unchanged, report.embedded, report.generation) == (4, 0, 1)


# Bad inputs: one line on stderr, a meaningful exit code, never a traceback. The hash model keeps them fast.


@pytest.fixture
def hash_env() -> dict[str, str]:
    return clean_env(CITEBOT_MODEL="hash")


@pytest.fixture
def indexed(tmp_path: Path, hash_env: dict[str, str]) -> Path:
    write_files(tmp_path / "docs", {"a.txt": "The harbour crane lifts containers.\n"})
    proc = cli("index", "docs", "--db", "db", env=hash_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return tmp_path


def test_ask_text_keeps_code_indentation_and_cuts_long_lines(tmp_path: Path, hash_env: dict[str, str]) -> None:
    """Python reads by its indentation: the printed passage keeps it; a long line is cut with an ellipsis."""
    code = ["# Lifting", "", "```python", "def lift(crane):", "    if crane.ready:", "        crane.hoist(load=2)",
            "```", "", "Harbour " * 40]
    write_files(tmp_path / "docs", {"lift.md": "\n".join(code) + "\n"})
    assert cli("index", "docs", "--db", "db", env=hash_env, cwd=tmp_path).returncode == 0
    proc = cli("ask", "crane hoist load ready lift harbour", "--db", tmp_path / "db", env=hash_env)
    assert proc.returncode == 0, proc.stderr
    assert "    5      if crane.ready:\n" in proc.stdout and "    6          crane.hoist(load=2)\n" in proc.stdout
    long_line = next(line for line in proc.stdout.splitlines() if "Harbour Harbour" in line)
    assert long_line.endswith(" …") and len(long_line) < 200


def test_missing_folder_exit_2(tmp_path: Path, hash_env: dict[str, str]) -> None:
    proc = cli("index", tmp_path / "nope", "--db", tmp_path / "db", env=hash_env)
    assert_one_line_error(proc, 2, "no such folder", "nope")
    (tmp_path / "file.txt").write_text("x")
    proc = cli("index", tmp_path / "file.txt", "--db", tmp_path / "db", env=hash_env)
    assert_one_line_error(proc, 2, "not a folder")


@pytest.mark.parametrize("question", ["", "   ", "\t"])
def test_empty_question_exit_2(indexed: Path, hash_env: dict[str, str], question: str) -> None:
    proc = cli("ask", question, "--db", indexed / "db", env=hash_env)
    assert_one_line_error(proc, 2, "the question is empty")


def test_over_long_question_exit_2(indexed: Path, hash_env: dict[str, str]) -> None:
    proc = cli("ask", "crane " * 17_000, "--db", indexed / "db", env=hash_env)  # about 100 KB
    assert_one_line_error(proc, 2, "the question is too long")


def test_no_index_yet_exit_5(tmp_path: Path, hash_env: dict[str, str]) -> None:
    proc = cli("ask", "anything", "--db", tmp_path / "db", env=hash_env)
    assert_one_line_error(proc, 5, "nothing is indexed at", "run `citebot index DIR` first")


def test_bad_eval_files_exit_2(indexed: Path, hash_env: dict[str, str]) -> None:
    db = indexed / "db"
    assert_one_line_error(cli("eval", indexed / "none.jsonl", "--db", db, env=hash_env), 2, "no such file")
    (indexed / "bad.jsonl").write_text('{"question": "ok"}\n{not json\n')
    assert_one_line_error(cli("eval", indexed / "bad.jsonl", "--db", db, env=hash_env), 2, "not JSON", "line 2")
    (indexed / "noq.jsonl").write_text('{"gold": []}\n')
    assert_one_line_error(cli("eval", indexed / "noq.jsonl", "--db", db, env=hash_env), 2, 'no "question"')


@pytest.mark.slow
def test_an_answer_below_the_sure_relevance_says_it_may_not_answer(real_index: RealIndex) -> None:
    """Between abstaining and a plain answer: the passages come after a caution line (exit 0), and ``--json``
    says ``tentative``; CITEBOT_SURE_RELEVANCE moves the line (1: every answer is cautious, 0: none)."""
    question = "How long does the sourdough dough rise?"
    shown = {}
    for sure in ("1", "0"):
        env = {**real_index.env, "CITEBOT_SURE_RELEVANCE": sure}
        text = cli("ask", question, "--db", real_index.db, env=env)
        data = json.loads(cli("ask", question, "--json", "--db", real_index.db, env=env).stdout)
        assert text.returncode == 0, text.stderr
        shown[sure] = text.stdout.splitlines()
        assert data["tentative"] is (sure == "1") and data["hits"]
    assert shown["1"][:2] == [TENTATIVE_NOTE, ""] and shown["1"][2:] == shown["0"], "the same passages"
    assert shown["0"][0].startswith("1. kitchen/bread.rst:")


def test_eval_counts_the_answers_given_with_a_caution(indexed: Path, hash_env: dict[str, str]) -> None:
    """``cautioned_answerable`` / ``cautioned_unanswerable``: the share of each kind of question answered
    tentatively (abstentions are not cautions)."""
    gold = [{"source": "a.txt", "line": 1}]
    rows = [{"question": "what lifts containers?", "gold": gold},
            {"question": "the harbour crane lifts what?", "gold": gold},
            {"question": "which crane lifts containers at the harbour?", "gold": []}]
    path = indexed / "cautious.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    db = indexed / "db"
    for sure, expected in (("1", 1.0), ("0", 0.0)):
        result = json.loads(cli("eval", path, "--db", db, "--json", env={**hash_env, "CITEBOT_SURE_RELEVANCE": sure,
                                                                          "CITEBOT_MIN_RELEVANCE": "0"}).stdout)
        assert result["abstain"] == 0.0, "nothing withheld: every answer is plain or cautious"
        assert (result["cautioned_answerable"], result["cautioned_unanswerable"]) == (expected, expected)
    withheld = json.loads(cli("eval", path, "--db", db, "--json", env={**hash_env, "CITEBOT_SURE_RELEVANCE": "1",
                                                                        "CITEBOT_MIN_RELEVANCE": "1"}).stdout)
    assert withheld["abstain"] == 1.0 and withheld["cautioned_unanswerable"] == 0.0


def test_eval_scores_each_style_of_question_apart(indexed: Path, hash_env: dict[str, str]) -> None:
    """Questions with a "style" are scored per style too (JSON ``by_style``, a table in text), in the order the
    styles first appear; a file without styles prints the overall figures alone."""
    gold = [{"source": "a.txt", "line": 1}]
    rows = [{"question": "what lifts containers?", "gold": gold, "style": "paraphrase"},
            {"question": "the harbour crane lifts what?", "gold": gold, "style": "lexical"},
            {"question": "which crane lifts containers?", "gold": gold, "style": "paraphrase"},
            {"question": "is there a ferry timetable?", "gold": [], "style": "unanswerable"}]
    path = indexed / "styled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    db = indexed / "db"
    result = json.loads(cli("eval", path, "--db", db, "--json", env=hash_env).stdout)
    by_style = result["by_style"]
    assert list(by_style) == ["paraphrase", "lexical", "unanswerable"]
    assert (by_style["paraphrase"]["answerable"], by_style["lexical"]["answerable"]) == (2, 1)
    assert by_style["unanswerable"]["unanswerable"] == 1 and by_style["unanswerable"]["hit@1"] is None
    assert by_style["unanswerable"]["abstain"] == result["abstain"]
    for style in ("paraphrase", "lexical"):  # a one-line file: every answer that is not withheld covers the gold
        assert by_style[style]["hit@5"] == by_style[style]["hit@1"] and by_style[style]["abstain"] is None
    text = cli("eval", path, "--db", db, env=hash_env).stdout.splitlines()
    table = text[text.index("") + 1:]
    assert table[0].split() == ["style", "n", "hit@1", "hit@5", "precise@1", "abstain"]
    assert [row.split()[:2] for row in table[1:]] == [["paraphrase", "2"], ["lexical", "1"], ["unanswerable", "1"]]
    assert table[3].split()[2:] == [f"{result['abstain']:.3f}"], "only its abstain column is filled"
    plain = indexed / "plain.jsonl"
    plain.write_text(json.dumps({"question": "what lifts containers?", "gold": gold}) + "\n")
    assert "by_style" not in json.loads(cli("eval", plain, "--db", db, "--json", env=hash_env).stdout)
    assert "" not in cli("eval", plain, "--db", db, env=hash_env).stdout.splitlines(), "no table"


def test_a_file_the_gitignore_names_is_not_indexed_and_leaves_the_index_when_named(
        tmp_path: Path, hash_env: dict[str, str]) -> None:
    write_files(tmp_path / "docs", {"guide.md": "The harbour crane lifts containers.\n",
                                    "_build/guide.html": "<p>The harbour crane lifts containers.</p>\n",
                                    ".gitignore": "_build/\n"})
    first = json.loads(cli("index", "docs", "--db", "db", "--json", env=hash_env, cwd=tmp_path).stdout)
    assert (first["added"], first["chunks"]) == (1, 1)
    (tmp_path / "docs" / ".citebotignore").write_text("guide.md\n")
    (tmp_path / "docs" / "faq.md").write_text("Ferries leave at noon.\n")
    again = json.loads(cli("index", "docs", "--db", "db", "--json", env=hash_env, cwd=tmp_path).stdout)
    assert (again["added"], again["removed"]) == (1, 1)
    hits = json.loads(cli("ask", "harbour crane", "--db", "db", "--json", env=hash_env, cwd=tmp_path).stdout)["hits"]
    assert {h["source"] for h in hits} <= {"faq.md"}


def test_bad_settings_and_paths_are_one_line(indexed: Path, hash_env: dict[str, str]) -> None:
    bad_setting = dict(hash_env, CITEBOT_TOP_K="many")
    assert_one_line_error(cli("stats", "--db", indexed / "db", env=bad_setting), 2, "CITEBOT_TOP_K")
    (indexed / "afile").write_text("not a folder")
    assert_one_line_error(cli("index", "docs", "--db", "afile", env=hash_env, cwd=indexed), 1, "Not a directory")
    proc = cli("ask", "crane", "-k", "0", "--db", indexed / "db", env=hash_env)
    assert proc.returncode == 2 and "at least 1" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", ["a b", "ab", "-starts-with-a-dash", "ends.with.a.dot.", "x" * 505, "naïve"])
def test_unusable_collection_name_is_one_line_exit_2(indexed: Path, hash_env: dict[str, str], name: str) -> None:
    env = dict(hash_env, CITEBOT_COLLECTION=name)
    for command in (("index", "docs"), ("ask", "crane"), ("stats",)):
        proc = cli(*command, "--db", "db", env=env, cwd=indexed)
        assert_one_line_error(proc, 2, "invalid setting CITEBOT_COLLECTION", "not a usable Chroma collection name")


def test_longest_collection_name_allowed_fits_chroma_with_its_side_collection(tmp_path: Path) -> None:
    """The longest name the setting accepts, and server mode's side collection beside it, are names Chroma takes."""
    import chromadb

    from citebot.index import Settings, ledger
    from citebot.index.settings import COLLECTION_MAX_CHARS

    client = chromadb.PersistentClient(path=str(tmp_path), settings=chromadb.Settings(anonymized_telemetry=False))
    for name in ("c" * COLLECTION_MAX_CHARS, "a.b", "A-1_z", "citebot"):
        assert Settings(collection=name, _env_file=None).collection == name  # type: ignore[call-arg]
        for chroma_name in (name, ledger.side_collection(name)):
            client.get_or_create_collection(chroma_name, embedding_function=None)  # refused: an exception


def test_other_model_than_the_index_exit_2(indexed: Path) -> None:
    env = clean_env(CITEBOT_MODEL="/nonexistent/model")
    assert_one_line_error(cli("ask", "crane", "--db", indexed / "db", env=env), 2, "was built with the model")


def test_stats_before_indexing_is_empty_not_an_error(tmp_path: Path, hash_env: dict[str, str]) -> None:
    proc = cli("stats", "--json", "--db", tmp_path / "db", env=hash_env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["files"] == 0


def test_index_text_output_lists_each_problem_once(tmp_path: Path, hash_env: dict[str, str]) -> None:
    docs = write_files(tmp_path / "docs", {"ok.txt": "fine\n", "bin.txt": b"\x00\x01", "bad.txt": b"caf\xe9\n"})
    outside = write_files(tmp_path / "outside", {"secret.txt": "not for the index\n"})
    (docs / "leak.txt").symlink_to(outside / "secret.txt")
    (docs / "loop.md").symlink_to(docs / "loop.md")
    with (docs / "huge.txt").open("wb") as fh:
        fh.truncate(200 * 1024 * 1024)
    for _ in range(2):  # every run reports the problems it meets, once each
        proc = cli("index", "docs", "--db", "db", env=hash_env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.splitlines() == [
            "skipped bin.txt: binary file (NUL bytes)",
            "skipped huge.txt: larger than the 2,000,000-byte limit (209,715,200 bytes)",
            "skipped leak.txt: symbolic link pointing outside the folder (not followed)",
            "skipped loop.md: broken or looping symbolic link",
            "warning: bad.txt: 1 invalid UTF-8 sequence(s) replaced",
        ]
    assert proc.stdout.startswith("0 added, 0 updated, 0 removed, 2 unchanged, 4 skipped;")


# Console script: what only a fresh process launched by its installed name shows.


def test_console_script_indexes_answers_and_exits_with_the_documented_codes(
    tmp_path: Path, hash_env: dict[str, str]
) -> None:
    write_files(tmp_path / "docs", {"a.txt": "The harbour crane lifts containers.\n", "b.txt": "Gulls nest.\n"})
    bad = run_cli("stats", env=dict(hash_env, CITEBOT_TOP_K="many"))  # stats: the launch imports the least
    assert_one_line_error(bad, 2, "invalid setting CITEBOT_TOP_K")
    indexed = run_cli("index", "docs", "--db", "db", "--json", env=hash_env, cwd=tmp_path)
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["added"] == 2
    asked = run_cli("ask", "what lifts containers in the harbour", "--json", "--db", tmp_path / "db", env=hash_env)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["hits"][0]["source"] == "a.txt"


def test_output_into_a_closed_pipe_is_not_an_error(indexed: Path, hash_env: dict[str, str]) -> None:
    """`citebot ask ... | head -1`: the reader goes away before the answer is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([str(CITEBOT), "ask", "harbour crane", "--json", "--db", str(indexed / "db")],
                              stdout=write_end, stderr=subprocess.PIPE, env=hash_env, timeout=120, check=False)
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr and b"BrokenPipe" not in proc.stderr


def test_answer_printed_to_an_ascii_only_stdout_is_not_a_traceback(tmp_path: Path, hash_env: dict[str, str]) -> None:
    """PYTHONIOENCODING=ascii (or a legacy console code page): the answer is still printed, escaped if need be."""
    line = "Le café ouvre à midi."
    write_files(tmp_path / "docs", {"café.txt": line + "\n"})
    assert cli("index", "docs", "--db", "db", env=hash_env, cwd=tmp_path).returncode == 0
    ascii_env = dict(hash_env, PYTHONIOENCODING="ascii")
    proc = run_cli("ask", "café midi", "--json", "--db", tmp_path / "db", env=ascii_env)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    hit = json.loads(proc.stdout)["hits"][0]
    assert (hit["source"], hit["line_text"]) == ("café.txt", line)

"""The bot's database (``index/feedback.py``), the gaps grouping (``index/gaps.py``), and ``citebot gaps`` /
``citebot forget`` driven through the command line."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from pathlib import Path

import pytest

from citebot.index.feedback import SCHEMA_VERSION, AnswerRecord, Database, DatabaseProblem, database_path
from citebot.index.gaps import GapItem, counts, gaps_csv, group_gaps, similarity
from citebot.index.textproc import terms

from .helpers import assert_one_line_error, clean_env, cli, hash_settings

GUILD, OTHER_GUILD = 501, 502
ASKER, VOTER = 9001, 9002
NOW = 1_780_000_000.0  # a fixed "now" (2026), so the tests never depend on the clock


def record(answer_id: str, question: str | None = "How do I install it?", *, user: int = ASKER,
           guild: int | None = GUILD, abstained: bool = False, at: float = NOW,
           cited: tuple[tuple[str, int, int, int], ...] = (("docs/install.md", 3, 9, 4),),
           relevance: float = 0.5) -> AnswerRecord:
    return AnswerRecord(answer_id, guild, 77, user, question, () if abstained else cited, 3, abstained, relevance,
                        at)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "bot.sqlite3")


# ----- grouping --------------------------------------------------------------------------------------------------


def test_rewordings_group_and_different_questions_do_not() -> None:
    items = [
        GapItem("How do I install it on Windows?", NOW, abstained=True),
        GapItem("how to install on windows", NOW + 1, abstained=False, downvotes=1),
        GapItem("Installing on Windows?", NOW + 2, abstained=True),
        GapItem("How do I install it on a Mac?", NOW + 3, abstained=True),
        GapItem("Which port does the server use?", NOW + 4, abstained=True, sources=("docs/server.md",)),
        GapItem("what port is the server on", NOW + 5, abstained=False, downvotes=2, needs_help=1,
                sources=("docs/server.md", "docs/ports.md")),
    ]
    groups = group_gaps(items)
    assert [(g.count, g.abstained, g.downvotes, g.needs_help) for g in groups] == [
        (3, 2, 1, 0), (2, 1, 2, 1), (1, 1, 0, 0)]
    windows, port, mac = groups
    assert windows.question in {"How do I install it on Windows?", "how to install on windows",
                                "Installing on Windows?"}
    assert port.last_asked == NOW + 5 and port.sources == ["docs/server.md", "docs/ports.md"]
    assert mac.question == "How do I install it on a Mac?"


def test_the_thresholds_examples() -> None:
    """The numbers the SIMILAR constant's comment quotes."""
    def sim(a: str, b: str) -> float:
        return similarity(frozenset(terms(a)), frozenset(terms(b)))

    assert sim("which port does the server use", "what port is the server on") == pytest.approx(2 / 3)
    assert sim("install on windows", "install on mac") == pytest.approx(1 / 3)
    assert sim("install", "uninstall") == 0


def test_most_frequent_first_then_most_recent_and_the_common_wording_names_the_group() -> None:
    items = [GapItem("backup schedule", NOW, True), GapItem("restore a backup", NOW + 10, True),
             GapItem("how to restore a backup?", NOW + 20, True), GapItem("restore a backup", NOW + 30, True),
             GapItem("rotate the logs", NOW + 40, True)]
    groups = group_gaps(items)
    assert [g.question for g in groups] == ["restore a backup", "rotate the logs", "backup schedule"]
    assert groups[0].count == 3


def test_without_question_text_groups_follow_the_cited_files() -> None:
    items = [GapItem(None, NOW, True), GapItem(None, NOW + 1, True),
             GapItem(None, NOW + 2, False, downvotes=1, sources=("a.md", "b.md")),
             GapItem(None, NOW + 3, False, downvotes=1, sources=("a.md", "c.md", "b.md")),
             GapItem(None, NOW + 4, False, needs_help=1, sources=("b.md", "a.md"))]
    groups = group_gaps(items)
    assert [(g.question, g.count, g.abstained, g.downvotes, g.needs_help) for g in groups] == [
        (None, 2, 0, 2, 0), (None, 2, 2, 0, 0), (None, 1, 0, 0, 1)]
    assert groups[0].sources == ["a.md", "b.md", "c.md"]  # by how many answers cite them, then in cited order


def test_grouping_is_quick_enough_for_a_large_server() -> None:
    items = [GapItem(f"question {i % 1000} about topic{i % 1000} and thing{i % 997}", NOW + i, True)
             for i in range(5000)]
    started = time.perf_counter()
    groups = group_gaps(items)
    assert time.perf_counter() - started < 2  # 0.1 s on the machine of 2026-12-01 (_TermIndex); room for a slow CI
    assert sum(g.count for g in groups) == 5000


# ----- the database ----------------------------------------------------------------------------------------------


def test_a_downvote_and_an_abstention_are_gaps_an_upvote_is_not(db: Database) -> None:
    db.record_answer(record("a1", "How do I install it?"))
    db.record_answer(record("a2", "What is the licence?", abstained=True))
    db.record_answer(record("a3", "How do I run the tests?"))
    assert db.record_vote("a1", VOTER, -1).known
    assert db.record_vote("a3", VOTER, +1).known
    groups = db.gaps()
    assert {(g.question, g.abstained, g.downvotes) for g in groups} == {
        ("How do I install it?", 0, 1), ("What is the licence?", 1, 0)}
    install = next(g for g in groups if g.question == "How do I install it?")
    assert install.sources == ["docs/install.md"]


def test_an_answer_given_unsure_is_a_gap_by_the_threshold_asked_with(db: Database) -> None:
    """An answer whose stored answerability is below ``unsure_below`` (the index's sure_relevance) is a gap of
    its own kind; an abstention stays "unanswered", never also "unsure"; with 0 nothing is unsure."""
    db.record_answer(record("low", "Can I embed it in Qt?", relevance=0.6))
    db.record_answer(record("high", "How do I install it?", relevance=0.9))
    db.record_answer(record("none", "What is the licence?", abstained=True, relevance=0.3))
    groups = {g.question: g for g in db.gaps(unsure_below=0.75)}
    assert set(groups) == {"Can I embed it in Qt?", "What is the licence?"}
    assert (groups["Can I embed it in Qt?"].unsure, groups["Can I embed it in Qt?"].abstained) == (1, 0)
    assert (groups["What is the licence?"].unsure, groups["What is the licence?"].abstained) == (0, 1)
    assert counts(groups["Can I embed it in Qt?"]) == "asked once: 1 unsure"
    assert {g.question for g in db.gaps(unsure_below=0.95)} == set(groups) | {"How do I install it?"}
    assert {g.question for g in db.gaps()} == {"What is the licence?"}
    assert gaps_csv(db.gaps(unsure_below=0.75)).splitlines()[0].split(",")[5] == "unsure"


def test_one_vote_per_member_per_answer_and_a_changed_vote_replaces_the_old(db: Database) -> None:
    db.record_answer(record("a1"))
    assert db.record_vote("a1", VOTER, -1).previous is None
    assert db.gaps()[0].downvotes == 1
    assert db.record_vote("a1", VOTER, -1).previous == -1  # pressed twice: still one vote
    assert db.gaps()[0].downvotes == 1
    assert db.record_vote("a1", VOTER, +1).previous == -1
    assert db.gaps() == []  # the 👎 was replaced
    assert db.record_vote("a1", ASKER, -1).previous is None  # another member's vote is their own
    assert db.gaps()[0].downvotes == 1
    assert db.record_vote("missing", VOTER, +1).known is False


def test_help_requests_count_once_and_keep_the_vote(db: Database) -> None:
    db.record_answer(record("a1"))
    db.record_vote("a1", VOTER, +1)
    assert db.record_help("a1", VOTER) is True
    assert db.record_help("a1", VOTER) is False
    assert db.record_help("missing", VOTER) is None
    [group] = db.gaps()
    assert (group.needs_help, group.downvotes) == (1, 0)
    assert db.record_vote("a1", VOTER, -1).previous == 1  # the vote survived the help request


def test_gaps_of_one_guild_and_since_a_time(db: Database) -> None:
    db.record_answer(record("old", "old question", abstained=True, at=NOW - 10 * 86400))
    db.record_answer(record("new", "new question", abstained=True, at=NOW))
    db.record_answer(record("other", "other guild's question", abstained=True, guild=OTHER_GUILD))
    db.record_answer(record("dm", "asked in a DM", abstained=True, guild=None))
    assert {g.question for g in db.gaps(GUILD)} == {"old question", "new question"}
    assert {g.question for g in db.gaps(GUILD, since=NOW - 86400)} == {"new question"}
    assert len(db.gaps()) == 4


def test_forget_deletes_a_members_answers_and_votes_and_nothing_else(db: Database) -> None:
    db.record_answer(record("mine", "my question", abstained=True))
    db.record_answer(record("theirs", "their question", user=VOTER))
    db.record_vote("mine", VOTER, -1)  # someone else's vote on my answer goes with my answer
    db.record_vote("theirs", ASKER, -1)  # my vote on their answer
    db.record_help("theirs", ASKER)
    forgotten = db.forget_user(ASKER)
    assert (forgotten.answers, forgotten.votes) == (1, 1)
    assert db.gaps() == []  # their answer has no 👎 left, mine is gone
    with sqlite3.connect(db.path) as con:
        assert con.execute("SELECT id FROM answers").fetchall() == [("theirs",)]
        assert con.execute("SELECT count(*) FROM feedback").fetchone() == (0,)
    assert db.forget_user(ASKER) == forgotten.__class__(0, 0)


def test_the_file_is_wal_versioned_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    Database(path).record_answer(record("a1", abstained=True))
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert len(Database(path).gaps()) == 1  # a second open (a restart, or the CLI) reads what was written


def test_a_newer_schema_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    with sqlite3.connect(path) as con:
        con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(DatabaseProblem, match=rf"schema version {SCHEMA_VERSION + 1}, newer than") as caught:
        Database(path)
    assert "\n" not in str(caught.value) and "CITEBOT_BOT_DB_PATH" in str(caught.value)


def test_a_file_that_is_not_a_database_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseProblem, match="file is not a database"):
        Database(path)


def test_a_write_is_cheap(db: Database) -> None:
    """The bot writes off its event loop anyway; this bounds what a write costs (the module docstring's number)."""
    started = time.perf_counter()
    for i in range(200):
        db.record_answer(record(f"a{i}"))
    per_write = (time.perf_counter() - started) / 200
    assert per_write < 0.01, f"{per_write * 1000:.2f} ms per write"


def test_the_default_location_is_beside_the_index_state_folder(tmp_path: Path) -> None:
    settings = hash_settings(tmp_path)
    assert database_path(None, settings) == tmp_path / "db" / "bot.sqlite3"  # inside --db: backed up with it
    server = hash_settings(tmp_path, chroma_host="chroma.test")
    assert database_path(None, server) == Path(".citebot") / "bot.sqlite3"
    assert database_path(tmp_path / "x.sqlite3", settings) == tmp_path / "x.sqlite3"


# ----- the command line ------------------------------------------------------------------------------------------


def _filled(path: Path) -> None:
    db = Database(path)
    for i, question in enumerate(["How do I install it?", "how to install it", "installing it?"]):
        db.record_answer(record(f"i{i}", question, abstained=True, at=time.time() - i))
    db.record_answer(record("p1", "Which port does the server use?", user=VOTER, at=time.time()))
    db.record_vote("p1", ASKER, -1)
    db.record_answer(record("old", "a question from long ago", abstained=True, at=time.time() - 40 * 86400))
    db.record_answer(record("g2", "another guild asks", abstained=True, guild=OTHER_GUILD))
    db.close()


def test_cli_gaps_json_lists_groups_most_frequent_first(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    _filled(path)
    env = clean_env(CITEBOT_BOT_DB_PATH=str(path))
    proc = cli("gaps", "--json", "--guild", str(GUILD), "--since", "30", env=env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [(g["count"], g["abstained"], g["downvotes"]) for g in data["groups"]] == [(3, 3, 0), (1, 0, 1)]
    assert data["groups"][1]["question"] == "Which port does the server use?"
    assert data["groups"][1]["sources"] == ["docs/install.md"]
    assert data["questions_stored"] is True
    everything = json.loads(cli("gaps", "--json", env=env).stdout)
    assert len(everything["groups"]) == 4


def test_cli_gaps_text_and_csv(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    _filled(path)
    out = tmp_path / "gaps.csv"
    proc = cli("gaps", "--bot-db", path, "--csv", out, "--guild", str(GUILD))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("1. ") and "asked 3 times: 3 unanswered" in proc.stdout
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [int(r["count"]) for r in rows] == [3, 1, 1]
    assert rows[1]["downvotes"] == "1" or rows[2]["downvotes"] == "1"


def test_cli_forget_deletes_and_prints_counts(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    _filled(path)
    env = clean_env(CITEBOT_BOT_DB_PATH=str(path))
    proc = cli("forget", str(ASKER), env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"user {ASKER}: deleted 5 answer(s) to their questions and 1 of their vote(s)"
    data = json.loads(cli("gaps", "--json", env=env).stdout)
    assert data["groups"] == []  # the 👎 on VOTER's answer was ASKER's: gone too
    again = cli("forget", str(ASKER), env=env)
    assert again.stdout.strip() == f"user {ASKER}: deleted 0 answer(s) to their questions and 0 of their vote(s)"


def test_cli_bad_input_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    with sqlite3.connect(path) as con:
        con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    env = clean_env(CITEBOT_BOT_DB_PATH=str(path))
    assert_one_line_error(cli("gaps", env=env), 2, "newer than")
    for args in (("forget", "not-a-number"), ("gaps", "--since", "0"), ("gaps", "--top", "-1")):
        proc = cli(*args, env=env)  # argparse's own refusal: the usage line, then one line naming the option
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.splitlines()[-1].startswith("citebot"), proc.stderr
    missing = clean_env(CITEBOT_BOT_DB_PATH=str(tmp_path / "none.sqlite3"))
    proc = cli("gaps", env=missing)
    assert proc.returncode == 0 and "No gaps recorded" in proc.stdout
    assert not (tmp_path / "none.sqlite3").exists()  # reading never creates the file


def test_cli_help_teaches() -> None:
    gaps = cli("gaps", "--help")
    assert gaps.returncode == 0
    for fragment in ("--since DAYS", "--csv FILE", "--guild ID", "CITEBOT_BOT_DB_PATH", "CITEBOT_BOT_STORE_QUESTIONS",
                     "example"):
        assert fragment in gaps.stdout, fragment
    forget = cli("forget", "--help")
    assert forget.returncode == 0 and "USER_ID" in forget.stdout and "Copy User ID" in forget.stdout

"""The bot's database (SQLite): the answers it gave, the votes members left on them, and the gaps report.

It lives in ``index/`` although the bot writes it because ``citebot gaps`` and ``citebot forget`` read and
change it without Discord (and ``index/`` never imports ``bot/``). One file for every guild, by default
``bot.sqlite3`` beside the default index's state folder (``database_path``): in embedded mode that is inside the
Chroma directory (``.citebot/chroma/bot.sqlite3``), so that backing up ``--db`` backs it up too (Chroma and the
private read copies ignore it); in server mode ``.citebot/bot.sqlite3``. ``CITEBOT_BOT_DB_PATH`` puts it
elsewhere (needed when the index is on read-only media).

- WAL journal: the CLI reads while the bot writes, neither waits for the other; ``synchronous=NORMAL``, which
  in WAL mode is crash-safe and costs no disk flush per commit (a power cut may lose the last few votes).
  A write is one small transaction: 0.14 ms for an answer, 0.09 ms for a vote (2,000 of each, on the machine
  of 2026-12-01; ``tests/index/test_feedback.py::test_a_write_is_cheap`` bounds it); the bot still makes them
  off its event loop.
- One connection per ``Database``, shared by threads under a lock (sqlite3 connections are not safe to use
  from two threads at once). Other processes open their own; SQLite locks the file between them.
- The schema's version is ``PRAGMA user_version``: a file written by a newer citebot is refused with one line
  rather than misread. It versions these tables only: other tables in the same file (``guild_config`` of
  ``bot/guilds.py``) use their own connection and create themselves with ``CREATE TABLE IF NOT EXISTS``.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import UsageError, one_line
from .gaps import GapGroup, GapItem, group_gaps
from .search import Hit
from .settings import Settings

DATABASE_FILE = "bot.sqlite3"
SCHEMA_VERSION = 1
# Each entry brings the file from version i to i + 1; the whole list makes a new file.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS answers (
        id TEXT PRIMARY KEY,            -- random hex, also in the custom ids of the answer's buttons
        time REAL NOT NULL,             -- Unix seconds
        guild_id INTEGER,               -- NULL for a direct message
        channel_id INTEGER,
        user_id INTEGER NOT NULL,       -- who asked
        question TEXT,                  -- NULL unless CITEBOT_BOT_STORE_QUESTIONS allowed storing it
        cited TEXT NOT NULL,            -- JSON list of {source, line_start, line_end, line}
        generation INTEGER NOT NULL,    -- the index generation that answered (0: unknown)
        abstained INTEGER NOT NULL,     -- 1 when nothing was relevant enough to answer
        relevance REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS answers_by_guild_time ON answers (guild_id, time);
    CREATE INDEX IF NOT EXISTS answers_by_user ON answers (user_id);
    CREATE TABLE IF NOT EXISTS feedback (
        answer_id TEXT NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL,       -- who pressed
        vote INTEGER NOT NULL CHECK (vote IN (-1, 0, 1)),  -- 0: no vote, only "still need help?"
        needs_help INTEGER NOT NULL DEFAULT 0,
        time REAL NOT NULL,
        PRIMARY KEY (answer_id, user_id)
    );
    CREATE INDEX IF NOT EXISTS feedback_by_user ON feedback (user_id);
    """,
)
assert len(MIGRATIONS) == SCHEMA_VERSION
BUSY_TIMEOUT_MS = 5000  # how long a write waits for another process's write (the CLI's `forget`): it takes ms
ANSWER_ID_BYTES = 8  # 16 hex characters: unguessable among a server's answers, short in a 100-character custom id


class DatabaseProblem(UsageError):
    """The database file cannot be opened or is not one this citebot can read; the message says which."""


class DatabaseSettings(BaseSettings):
    """The one bot setting the command line needs (``citebot gaps``, ``citebot forget``); the bot reads the same
    variable through ``BotSettings.db_path``."""

    model_config = SettingsConfigDict(env_prefix="CITEBOT_BOT_", env_file=".env", extra="ignore")

    db_path: Path | None = Field(None, description="The bot's SQLite database (feedback, gaps, per-guild settings).")


def database_path(explicit: Path | None, index_settings: Settings) -> Path:
    """``explicit`` (the setting), else ``bot.sqlite3`` beside the default index's state folder: the bot and the
    command line find the same file from the same index settings."""
    return explicit if explicit is not None else index_settings.resolved_state_dir().parent / DATABASE_FILE


def open_existing(path: Path) -> Database | None:
    """The database at ``path``, or None when there is no file yet (reading never creates one)."""
    return Database(path) if path.exists() else None


def report_json(groups: Sequence[GapGroup]) -> dict[str, object]:
    """The gaps report as one JSON object (``citebot gaps --json``, ``/gaps export:json``)."""
    return {"questions_stored": not any(g.question is None for g in groups),
            "groups": [g.to_json() for g in groups]}


def new_answer_id() -> str:
    return secrets.token_hex(ANSWER_ID_BYTES)


@dataclass(frozen=True)
class AnswerRecord:
    """One answer as stored; ``question`` None when storing questions is not allowed."""

    id: str
    guild_id: int | None
    channel_id: int | None
    user_id: int
    question: str | None
    cited: tuple[tuple[str, int, int, int], ...]  # (source, line_start, line_end, line) of each cited hit
    generation: int
    abstained: bool
    relevance: float
    time: float

    @staticmethod
    def cite(hits: Sequence[Hit]) -> tuple[tuple[str, int, int, int], ...]:
        return tuple((h.source, h.line_start, h.line_end, h.line) for h in hits)


@dataclass(frozen=True)
class Vote:
    """What ``record_vote`` did: ``known`` False when the answer is not in the database (deleted on request,
    or recorded while the database was unavailable); ``previous`` the member's earlier vote, if any."""

    known: bool
    previous: int | None = None


@dataclass(frozen=True)
class Forgotten:
    """What ``forget_user`` deleted."""

    answers: int  # answers to the member's questions (with every vote on them)
    votes: int  # the member's votes and requests for help on other members' answers

    def summary(self) -> str:
        return f"deleted {self.answers} answer(s) to their questions and {self.votes} of their vote(s)"


class Database:
    """The bot's SQLite file; safe to share between threads. ``DatabaseProblem`` when it cannot be used."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                        check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise DatabaseProblem(f"cannot open the bot database {path}: {_reason(exc)}") from None
        try:
            self._prepare()
        except sqlite3.Error as exc:
            self._con.close()
            raise DatabaseProblem(f"cannot use the bot database {path}: {_reason(exc)}") from None
        except DatabaseProblem:
            self._con.close()
            raise

    def _prepare(self) -> None:
        con = self._con
        version = int(con.execute("PRAGMA user_version").fetchone()[0])  # reads the header: fails on a non-database
        if version > SCHEMA_VERSION:
            raise DatabaseProblem(
                f"the bot database {self.path} has schema version {version}, newer than this citebot's "
                f"{SCHEMA_VERSION}: upgrade citebot, or set CITEBOT_BOT_DB_PATH to another file"
            )
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA foreign_keys=ON")
        for number in range(version, SCHEMA_VERSION):
            with self.transaction() as tx:
                # Read again under the write lock: another process (the bot and the CLI at once) may have migrated.
                if int(tx.execute("PRAGMA user_version").fetchone()[0]) <= number:
                    _run_script(tx, MIGRATIONS[number])
                    tx.execute(f"PRAGMA user_version={number + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one immediate transaction, committed when the block ends (rolled back on error)."""
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._con.close()

    # ----- writes ------------------------------------------------------------------------------------------

    def record_answer(self, record: AnswerRecord) -> None:
        cited = json.dumps([{"source": s, "line_start": a, "line_end": b, "line": line}
                            for s, a, b, line in record.cited], ensure_ascii=False)
        with self.transaction() as con:
            con.execute(
                "INSERT OR REPLACE INTO answers (id, time, guild_id, channel_id, user_id, question, cited, "
                "generation, abstained, relevance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.time, record.guild_id, record.channel_id, record.user_id, record.question,
                 cited, record.generation, int(record.abstained), record.relevance),
            )

    def record_vote(self, answer_id: str, user_id: int, vote: int, at: float | None = None) -> Vote:
        """The member's vote (+1 or -1) on an answer, replacing their earlier one; keeps their help request."""
        if vote not in (1, -1):
            raise ValueError(f"a vote is +1 or -1, not {vote!r}")
        with self.transaction() as con:
            if con.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                return Vote(False)
            row = con.execute("SELECT vote FROM feedback WHERE answer_id = ? AND user_id = ?",
                              (answer_id, user_id)).fetchone()
            con.execute(
                "INSERT INTO feedback (answer_id, user_id, vote, time) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (answer_id, user_id) DO UPDATE SET vote = excluded.vote, time = excluded.time",
                (answer_id, user_id, vote, time.time() if at is None else at),
            )
        previous = int(row[0]) if row is not None and row[0] != 0 else None
        return Vote(True, previous)

    def record_help(self, answer_id: str, user_id: int, at: float | None = None) -> bool | None:
        """Flag that the member still needs help after an answer: True the first time, False when they had
        already asked, None when the answer is not in the database."""
        with self.transaction() as con:
            if con.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                return None
            row = con.execute("SELECT needs_help FROM feedback WHERE answer_id = ? AND user_id = ?",
                              (answer_id, user_id)).fetchone()
            if row is not None and row[0]:
                return False
            con.execute(
                "INSERT INTO feedback (answer_id, user_id, vote, needs_help, time) VALUES (?, ?, 0, 1, ?) "
                "ON CONFLICT (answer_id, user_id) DO UPDATE SET needs_help = 1, time = excluded.time",
                (answer_id, user_id, time.time() if at is None else at),
            )
        return True

    def forget_user(self, user_id: int) -> Forgotten:
        """Delete everything stored about a member: answers to their questions (and every vote on those) and
        their own votes and help requests on other answers. Per-guild settings hold no member data."""
        with self.transaction() as con:
            votes = con.execute(
                "DELETE FROM feedback WHERE user_id = ? AND answer_id NOT IN "
                "(SELECT id FROM answers WHERE user_id = ?)", (user_id, user_id)).rowcount
            answers = con.execute("DELETE FROM answers WHERE user_id = ?", (user_id,)).rowcount  # cascades
        return Forgotten(answers, votes)

    # ----- reads -------------------------------------------------------------------------------------------

    def gap_items(
        self, guild_id: int | None = None, since: float | None = None, unsure_below: float = 0.0
    ) -> list[GapItem]:
        """Answers that show a gap (abstained, given with a caution, 👎 or "still need help?"), of one guild or
        all, since a time. An answer counts as cautious when its stored answerability is below ``unsure_below``
        (the index's ``sure_relevance``, read now: lowering the setting lowers what the report calls unsure)."""
        where: list[str] = ["1"]
        params: list[float] = [unsure_below]  # the unsure column's placeholder comes first in the query
        if guild_id is not None:
            where.append("a.guild_id = ?")
            params.append(guild_id)
        if since is not None:
            where.append("a.time >= ?")
            params.append(since)
        # Only the gaps are read and counted, not every answer: most answers are fine, and the feedback rows are
        # found by their primary key's first column.
        query = (
            "SELECT a.question, a.time, a.abstained, a.cited, "
            "(SELECT count(*) FROM feedback f WHERE f.answer_id = a.id AND f.vote = -1), "
            "(SELECT count(*) FROM feedback f WHERE f.answer_id = a.id AND f.needs_help), "
            "(NOT a.abstained AND a.relevance < ?) "
            f"FROM answers a WHERE {' AND '.join(where)} AND (a.abstained OR a.relevance < ? OR a.id IN "
            "(SELECT answer_id FROM feedback WHERE vote = -1 OR needs_help))"
        )
        with self._lock:
            rows = self._con.execute(query, [*params, unsure_below]).fetchall()
        return [
            GapItem(question, float(at), bool(abstained), int(down), int(helps),
                    tuple(c["source"] for c in json.loads(cited)), bool(unsure))
            for question, at, abstained, cited, down, helps, unsure in rows
        ]

    def gaps(
        self, guild_id: int | None = None, since: float | None = None, unsure_below: float = 0.0
    ) -> list[GapGroup]:
        """The gaps report: ``gap_items`` grouped by similar question, most frequent first."""
        return group_gaps(self.gap_items(guild_id, since, unsure_below))


def _run_script(con: sqlite3.Connection, script: str) -> None:
    """Run each statement of ``script`` inside the caller's transaction (``executescript`` would commit it)."""
    for statement in script.split(";"):
        if statement.strip():
            con.execute(statement)


def _reason(exc: BaseException) -> str:
    """sqlite3's and the OS's messages as one line (``file is not a database``, ``Permission denied``)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return one_line(exc).split(": ", 1)[-1]

"""citebot's retrieval library: index a folder of documents and answer with line-exact citations.

``bot/`` and the CLI use only what is re-exported here.
"""

from .check import CheckReport, Problem
from .embedder import Embedder, HashEmbedder, SentenceTransformerEmbedder, WrappedEmbedder, make_embedder
from .engine import Engine, Stats
from .errors import (
    CitebotError,
    IndexBusy,
    IndexDamaged,
    IndexMissing,
    LeaseHeld,
    NoSpace,
    StoreUnavailable,
    UsageError,
)
from .feedback import AnswerRecord, Database, DatabaseProblem, database_path, new_answer_id, report_json
from .gaps import NOT_STORED, GapGroup, counts, describe_unstored, gaps_csv
from .indexer import IndexReport
from .loader import Skipped
from .runtime import configure_process
from .search import MAX_QUESTION_CHARS, TENTATIVE_NOTE, Answer, Hit, clean_question
from .settings import Settings, get_settings, split_csv
from .structure import CELL_SEPARATOR

__all__ = [
    "CELL_SEPARATOR",
    "MAX_QUESTION_CHARS",
    "NOT_STORED",
    "TENTATIVE_NOTE",
    "Answer",
    "AnswerRecord",
    "CheckReport",
    "CitebotError",
    "Database",
    "DatabaseProblem",
    "Embedder",
    "Engine",
    "GapGroup",
    "HashEmbedder",
    "Hit",
    "IndexBusy",
    "IndexDamaged",
    "IndexMissing",
    "IndexReport",
    "LeaseHeld",
    "NoSpace",
    "Problem",
    "SentenceTransformerEmbedder",
    "Settings",
    "Skipped",
    "Stats",
    "StoreUnavailable",
    "UsageError",
    "WrappedEmbedder",
    "clean_question",
    "configure_process",
    "counts",
    "database_path",
    "describe_unstored",
    "gaps_csv",
    "new_answer_id",
    "get_settings",
    "make_embedder",
    "report_json",
    "split_csv",
]

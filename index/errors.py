"""Errors a user can cause or fix; each carries a one-line message fit to show as is."""

from __future__ import annotations


class CitebotError(Exception):
    """Base class: ``str(err)`` is a complete, one-line message for the user."""

    exit_code = 1


class UsageError(CitebotError):
    """A bad input: a missing folder, an empty question, a malformed file."""

    exit_code = 2


class StoreUnavailable(CitebotError):
    """The Chroma server cannot be reached; retrying later may work."""

    exit_code = 3


class IndexBusy(CitebotError):
    """Another re-index holds the lock."""

    exit_code = 4


class LeaseHeld(IndexBusy):
    """Another indexer, possibly on another machine, holds the writer's lease on a server collection; the
    message names it (host:pid) and says when the lease runs out."""

    exit_code = 7


class IndexMissing(CitebotError):
    """Nothing has been indexed yet at this location."""

    exit_code = 5


class IndexDamaged(CitebotError):
    """Part of the index on disk is damaged or lost (the manifest, a keyword index, chunks or vectors Chroma
    no longer holds): ``citebot check --repair`` or the next ``citebot index`` repairs it.

    ``problem`` says what is wrong, ``fix`` what the repair does; the message is both, on one line.
    """

    exit_code = 6

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(f"{problem}; {fix}" if fix else problem)
        self.problem = problem
        self.fix = fix


class NoSpace(CitebotError):
    """The disk (or the temporary directory) is full; freeing space and trying again works."""


def one_line(exc: BaseException) -> str:
    """An exception as one line for a message or a log: its type and the first line of its text."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__

"""Everything between a question arriving and an ``Answer``: validation, cooldown, the search off the event loop.

Shared by /ask, mentions and ask-channels so they behave the same; it knows nothing about Discord.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TypeVar

from citebot.index import Answer, Engine, UsageError, clean_question

MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")

# Members the cooldown table may hold before a hit sweeps out those idle for a whole window. Chosen, not
# measured: each entry is at most ``rate`` timestamps, so 10,000 entries are a few MB, and the sweep (one pass
# over the table) only starts once that many members have asked, which few servers reach.
COOLDOWN_MEMBERS = 10_000

# Random bytes in an answer's cache key: 8 bytes (16 hex characters) make a guessed or colliding key
# practically impossible among the few thousand cached answers, and keep the button's custom id (Discord
# allows 100 characters) short. The button's custom-id pattern in exts/ask.py is derived from this.
ANSWER_KEY_BYTES = 8
T = TypeVar("T")


class Refused(Exception):
    """The question itself cannot be asked (empty, too long): ``str`` is the one line the member sees."""


class Throttled(Exception):
    """The member asked too often; ``retry_after`` seconds until the next question is accepted."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"You're asking quickly: try again in {max(1, round(retry_after))} s.")


class Cooldowns:
    """At most ``rate`` questions per member in any ``per``-second window (a sliding window)."""

    def __init__(self, rate: int, per: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.per = per
        self._clock = clock
        self._seen: dict[int, deque[float]] = {}

    def hit(self, user_id: int) -> None:
        """Count one question, or raise ``Throttled`` (not counting it) when the member is over the rate."""
        if self.per <= 0:
            return
        now = self._clock()
        stamps = self._seen.setdefault(user_id, deque())
        while stamps and stamps[0] <= now - self.per:
            stamps.popleft()
        if len(stamps) >= self.rate:
            raise Throttled(stamps[0] + self.per - now)
        stamps.append(now)
        if len(self._seen) > COOLDOWN_MEMBERS:  # forget members idle for a whole window
            self._seen = {u: s for u, s in self._seen.items() if s and s[-1] > now - self.per}


class AnswerCache:
    """Recent answers by a short random key, so a button can show their passages later (bounded, LRU)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Answer] = OrderedDict()

    def put(self, answer: Answer) -> str:
        key = secrets.token_hex(ANSWER_KEY_BYTES)
        self._items[key] = answer
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> Answer | None:
        answer = self._items.get(key)
        if answer is not None:
            self._items.move_to_end(key)
        return answer


class Asker:
    """Validates, rate-limits and answers questions; engines run in worker threads, a few at a time.

    The engine is given per question (``bot.engine_for(guild_id)``): each guild may read its own document set,
    while the cooldowns, the answer cache and the concurrency limit are the process's.
    """

    def __init__(self, cooldowns: Cooldowns, max_chars: int, concurrency: int, cache: int) -> None:
        self.cooldowns = cooldowns
        self.max_chars = max_chars
        self.answers = AnswerCache(cache)
        self._slots = asyncio.Semaphore(concurrency)

    def accept(self, user_id: int, text: str) -> str:
        """The cleaned question; raises ``Refused`` for an empty or long one, ``Throttled`` when too frequent.

        Cheap and synchronous so that a refusal can be answered before deferring (and so stay ephemeral).
        """
        try:
            question = clean_question(text, self.max_chars)
        except UsageError as exc:
            raise Refused(str(exc)[:1].upper() + str(exc)[1:]) from None
        self.cooldowns.hit(user_id)
        return question

    async def answer(self, engine: Engine, question: str) -> Answer:
        """Search without blocking the event loop; at most ``concurrency`` searches run at once."""
        async with self._slots:
            return await asyncio.to_thread(engine.ask, question)

    async def run(self, fn: Callable[[], T]) -> T:
        """Any engine work (a follow-up's searches, a passage lookup) in a worker thread, within the same limit."""
        async with self._slots:
            return await asyncio.to_thread(fn)


def strip_mentions(content: str, user_id: int, role_id: int | None = None) -> str:
    """The message without mentions of the bot or its managed role, e.g. ``<@123> what is x?`` -> ``what is x?``."""
    text = MENTION.sub(lambda m: "" if int(m.group(1)) == user_id else m.group(0), content)
    if role_id is not None:
        text = ROLE_MENTION.sub(lambda m: "" if int(m.group(1)) == role_id else m.group(0), text)
    return text.strip()

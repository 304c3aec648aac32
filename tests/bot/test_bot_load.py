"""Load: 200 /ask from 20 members through FakeDiscord; one reply each, none lost, the event loop never stalls.
The same 200 as messages in an ask-channel, answered in threads; both with feedback recorded (issue 11).

Each simulated member is its own task firing its 10 questions back to back, so all 200 arrive within a few
hundred milliseconds. The stall is measured by a ticker on the same loop. Finding: before ``freeze_gc``, a
single full garbage-collector pass over this process's heap stalled the loop for ~75 ms (more with torch
loaded); with the start-up heap frozen the worst stall is ~20-40 ms on 2 cores.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot_harness import check_all_sent, discord_session, make_bot_settings, member, run, settled
from fake_discord import EPHEMERAL, FakeDiscord

from citebot.bot import BotSettings
from citebot.index import Engine

USERS = 20
PER_USER = 10
RATE = 6  # answered per member per window; the rest get the cooldown message
QUESTIONS = [
    "How long is green tea steeped?",
    "When should roses be pruned?",
    "Oolong: how many degrees and minutes?",
    "Where does the deploy script live?",
    "What is the airspeed velocity of an unladen swallow?",  # no answer
]
STALL_LIMIT = 0.25
ANSWER_BUDGET = 30.0  # seconds for all 200 (about 2 s measured on 2 cores); the wait below gives up at 60


async def ticker(stop: asyncio.Event, lateness: list[float], period: float = 0.005) -> None:
    """Sleeps ``period`` again and again and records how late each wake-up was: the loop's stalls."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        start = loop.time()
        await asyncio.sleep(period)
        lateness.append(loop.time() - start - period)


def _load(
    engine: Engine, settings: BotSettings, send: Callable[[FakeDiscord, Any, str], Awaitable[Any]],
    answered: Callable[[FakeDiscord, Any], Any], what: str,
) -> tuple[list[Any], float, list[float], FakeDiscord]:
    """USERS members each send PER_USER questions through ``send`` as fast as the loop lets them; waits until
    ``answered`` holds for every one sent, then until every handler has finished; the loop's stalls are
    recorded throughout. Returns what was sent, the seconds until all were answered, the stalls, the fake."""

    async def scenario() -> tuple[list[Any], float, list[float], FakeDiscord]:
        async with discord_session(engine, settings) as (fake, _bot):
            stop = asyncio.Event()
            lateness: list[float] = []
            watch = asyncio.create_task(ticker(stop, lateness))
            started = time.monotonic()
            sent: list[Any] = []

            async def asker(u: int) -> None:
                user = member(1400000000000000000 + u, f"user{u}")
                for n in range(PER_USER):
                    sent.append(await send(fake, user, QUESTIONS[(u + n) % len(QUESTIONS)]))
                    await asyncio.sleep(0)  # let the other members in

            await asyncio.gather(*(asker(u) for u in range(USERS)))
            await fake.until(lambda: all(answered(fake, item) for item in sent), timeout=60, what=what)
            elapsed = time.monotonic() - started
            await settled(timeout=30)  # every handler has finished: a late duplicate would have been sent by now
            stop.set()
            await watch
            check_all_sent(fake)
            return sent, elapsed, lateness, fake

    try:
        return run(scenario(), timeout=100)
    finally:
        gc.unfreeze()  # give this test process's objects back to the collector


def test_200_asks_from_20_members(engine: Engine) -> None:
    # As deployed: warm-up before going online and the start-up heap frozen out of the garbage collector's
    # passes (without gc.freeze one full pass over this process's heap alone takes ~75 ms).
    # Feedback on (every answer recorded with its question, buttons added) and threads on, as issue 11 deploys.
    settings = make_bot_settings(cooldown_rate=RATE, cooldown_seconds=120, ask_concurrency=4, warm_up=True,
                                 freeze_gc=True, store_questions=True, thread_mode=True)

    sent, elapsed, lateness, fake = _load(
        engine, settings, lambda fake, user, question: fake.slash("ask", {"question": question}, user),
        lambda fake, interaction: interaction.replies, "a reply to every /ask")
    callbacks = [c.path for c in fake.calls if c.path.endswith("/callback")]
    assert sorted(callbacks) == sorted(f"/api/v10/interactions/{i.id}/{i.token}/callback" for i in sent), (
        "each interaction acknowledged exactly once (the fake refuses a second one, so count the requests)"
    )
    assert all(len(i.replies) == 1 for i in sent), "exactly one reply per interaction"
    answered = [i for i in sent if i.deferred]
    throttled = [i for i in sent if not i.deferred]
    assert len(answered) == USERS * RATE and len(throttled) == USERS * (PER_USER - RATE)
    for i in throttled:
        assert int(i.replies[0]["flags"]) & EPHEMERAL and "try again in" in i.replies[0]["content"]
    for i in answered:
        reply = i.replies[0]
        assert reply.get("embeds") or reply.get("content"), "an answer or the no-answer line"
    assert elapsed < ANSWER_BUDGET, f"200 /ask took {elapsed:.1f} s"
    worst = max(lateness)
    print(f"\n200 /ask: {elapsed:.2f} s, {len(lateness)} ticks, worst event-loop stall {worst * 1000:.1f} ms")
    assert worst < STALL_LIMIT, f"the event loop stalled for {worst * 1000:.0f} ms"


def test_200_questions_in_an_ask_channel_answered_in_threads(engine: Engine) -> None:
    """The same load as messages in an ask-channel with threads and feedback on: every question gets exactly one
    response (an answer in a new thread, a short reply when nothing answers, or a private-ish notice when the
    member is throttled), and the loop never stalls."""
    settings = make_bot_settings(cooldown_rate=RATE, cooldown_seconds=120, ask_concurrency=4, warm_up=True,
                                 freeze_gc=True, store_questions=True, thread_mode=True)

    def responses(fake: FakeDiscord, message: dict[str, Any]) -> int:
        mid = message["id"]
        in_thread = [p for p in fake.channel_posts if p["channel_id"] == mid]  # a thread's id is its message's
        replies = [p for p in fake.channel_posts if str((p.get("message_reference") or {}).get("message_id")) == mid]
        reactions = [r for r in fake.reactions if str(r[0]) == mid]
        return len(in_thread) + len(replies) + len(reactions)

    sent, elapsed, lateness, fake = _load(
        engine, settings,
        lambda fake, user, question: fake.post_message(question, user, channel_id=FakeDiscord.ASK_CHANNEL_ID),
        responses, "a response to each")
    counts = [responses(fake, m) for m in sent]
    assert counts == [1] * len(sent), "exactly one response per question"
    threads = {p["channel_id"] for p in fake.channel_posts} & {m["id"] for m in sent}
    assert len(threads) >= USERS * RATE * 3 // 5, "answered questions are answered in their own threads"
    assert elapsed < ANSWER_BUDGET, f"200 questions took {elapsed:.1f} s"
    worst = max(lateness)
    print(f"\n200 ask-channel questions: {elapsed:.2f} s, {len(threads)} threads, worst stall {worst * 1000:.1f} ms")
    assert worst < STALL_LIMIT, f"the event loop stalled for {worst * 1000:.0f} ms"

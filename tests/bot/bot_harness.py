"""Shared pieces of the bot tests: our own small corpus, a bounded runner, a bot session against FakeDiscord,
and the checks every message the bot sends must pass (Discord's limits, no mentions allowed)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from fake_discord import FakeDiscord, pointed_at

from citebot.bot import BotSettings, CitebotBot, create_bot
from citebot.index import Engine

T = TypeVar("T")
TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMg.FaKe01.sekrit-token-never-log-me_0123456789"

CORPUS = {
    "tea.md": (
        "# Brewing tea\n\n"
        "Green tea is steeped at 80 degrees Celsius for two minutes.\n"
        "Black tea wants boiling water and four minutes of steeping.\n"
        "Oolong sits between them: 90 degrees and three minutes.\n"
    ),
    "garden/roses.md": (
        "# Roses\n\n"
        "Prune roses in late winter, just before the buds swell.\n"
        "Water roses deeply once a week rather than a little every day.\n"
    ),
    "ops/deploy.txt": (
        "Deployments\n\n"
        "The deploy script lives in scripts/deploy.sh and reads the release tag from VERSION.\n"
        "Rollbacks redeploy the previous release tag with the same script.\n"
    ),
    "kitchen/notice.md": (
        "# Kitchen notice\n\n"
        "Kettle rule: @everyone descales the office kettle on Fridays, @here too, ping <@123456789012345678> "
        "and <@&223456789012345678> if it smells; ~~struck~~ *claims* `code` ||spoiler|| > quote [link](http://x.test).\n"
    ),
}


def run(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run one test scenario on a fresh event loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def write_corpus(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def make_bot_settings(**overrides: Any) -> BotSettings:
    values: dict[str, Any] = {
        "token": TOKEN, "dev_guild_id": FakeDiscord.GUILD_ID, "ask_channel_ids": [FakeDiscord.ASK_CHANNEL_ID],
        "admin_roles": ["Librarian"], "cooldown_seconds": 0, "warm_up": False, "reindex_progress_seconds": 0.2,
        "freeze_gc": False,  # gc.freeze() would pin every test's garbage in this process; the load test turns it on
    }
    values.update(overrides)
    return BotSettings(_env_file=None, **values)


@contextlib.asynccontextmanager
async def discord_session(
    engine: Engine, bot_settings: BotSettings | None = None, prepare: Callable[[CitebotBot], None] | None = None,
    **fake_options: Any,
) -> AsyncIterator[tuple[FakeDiscord, CitebotBot]]:
    """FakeDiscord started, the real bot logged in and ready against it; both stopped afterwards.

    ``fake_options`` go to ``FakeDiscord`` (e.g. ``second_guild=True``); ``prepare`` sees the bot before it starts.
    """
    settings = bot_settings or make_bot_settings()
    token = settings.token.get_secret_value() if settings.token else TOKEN
    fake = FakeDiscord(token, **fake_options)
    await fake.start()
    try:
        with pointed_at(fake):
            bot = create_bot(settings, engine.settings, engine, guild_ready_timeout=0.05)
            if prepare is not None:
                prepare(bot)
            runner = asyncio.create_task(bot.start(token))
            ready = asyncio.create_task(bot.wait_until_ready())
            try:
                done, _ = await asyncio.wait({runner, ready}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
                if runner in done:
                    runner.result()  # surfaces the start-up error
                    raise AssertionError("the bot stopped before it was ready")
                if ready not in done:
                    raise AssertionError("the bot was not ready within 20 s")
                yield fake, bot
            finally:
                ready.cancel()
                await bot.close()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(runner, 10)
    finally:
        await fake.stop()


# Names discord.py gives the tasks that run the bot's handlers: slash commands, buttons, message listeners.
HANDLER_TASKS = ("CommandTree-invoker", "discord-ui-", "discord.py: on_message")


async def settled(timeout: float = 10.0) -> None:
    """Wait (bounded) until no handler of the bot (same loop) is running, so nothing more is on its way.

    Lets a test check that something did *not* happen (no reply to a bot, no duplicate) without a fixed sleep:
    once every handler task for the events sent so far has finished, every reply they could send was sent.
    Call it after waiting for the reply to a *later* event: the gateway is ordered, so by then the bot has
    read every earlier event and started its handler.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        busy = {t for t in asyncio.all_tasks() if t.get_name().startswith(HANDLER_TASKS) and not t.done()}
        if not busy:
            return
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"the bot was still handling {sorted(t.get_name() for t in busy)} after {timeout} s")
        await asyncio.wait(busy, timeout=remaining)


def member(user_id: int = 1300000000000000001, name: str = "asker") -> dict[str, Any]:
    return FakeDiscord.user(user_id, name)


def embed_len(embed: dict[str, Any]) -> int:
    """Characters Discord counts toward the 6,000 total, as it counts them."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += sum(len(f.get("name", "")) + len(f.get("value", "")) for f in embed.get("fields", []))
    total += len((embed.get("footer") or {}).get("text", "")) + len((embed.get("author") or {}).get("name", ""))
    return total


def check_payload(payload: dict[str, Any]) -> None:
    """What Discord would reject or what would ping someone: fails the test."""
    assert len(payload.get("content") or "") <= 2000, "content over 2,000 characters"
    embeds = payload.get("embeds") or []
    assert len(embeds) <= 10
    for embed in embeds:
        assert len(embed.get("title") or "") <= 256
        assert len(embed.get("description") or "") <= 4096
        assert len(embed.get("fields", [])) <= 25
        for f in embed.get("fields", []):
            assert len(f["name"]) <= 256 and 0 < len(f["value"]) <= 1024
        assert len((embed.get("footer") or {}).get("text", "")) <= 2048
    assert sum(embed_len(e) for e in embeds) <= 6000, "embeds over 6,000 characters together"
    mentions = payload.get("allowed_mentions")
    assert mentions is not None and mentions.get("parse") == [], f"a send allowed mentions: {mentions}"
    assert not mentions.get("users") and not mentions.get("roles") and not mentions.get("replied_user")


def check_all_sent(fake: FakeDiscord) -> None:
    for payload in fake.sent_payloads():
        check_payload(payload)

"""``citebot-bot`` / ``python -m citebot.bot``: read settings, log to stderr, run until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import discord
from pydantic import ValidationError

from citebot.index import configure_process, get_settings

from .client import CitebotBot, create_bot
from .logs import setup_logging
from .settings import BotSettings, get_bot_settings

log = logging.getLogger("bot")


async def serve(bot: CitebotBot, token: str) -> None:
    """Run ``bot`` until it stops or a signal asks it to; either way close it (gateway, HTTP session, tasks)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            loop.add_signal_handler(sig, stop.set)
    async with bot:
        runner = asyncio.create_task(bot.start(token), name="discord")
        stopper = asyncio.create_task(stop.wait(), name="signals")
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            log.info("signal received: shutting down")
            await bot.close()
        stopper.cancel()
        await runner


def _settings_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
    return f"citebot-bot: invalid setting {where}: {first.get('msg', 'invalid value')}"


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 on a clean shutdown, 1 when Discord refuses us, 2 for a configuration mistake."""
    configure_process()
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in {"-h", "--help"}:
        print("usage: citebot-bot\n\nRuns the Discord bot. Configure it with CITEBOT_BOT_* and CITEBOT_* variables "
              "or a .env file; see docs/bot.md.")
        return 0
    try:
        settings: BotSettings = get_bot_settings()
        index_settings = get_settings()
    except ValidationError as exc:
        print(_settings_error(exc), file=sys.stderr)
        return 2
    if settings.token is None or not settings.token.get_secret_value().strip():
        print("citebot-bot: no token: set CITEBOT_BOT_TOKEN in the environment or in .env", file=sys.stderr)
        return 2
    token = settings.token.get_secret_value().strip()
    setup_logging(settings.log_level, secrets=[token])
    bot = create_bot(settings, index_settings)
    try:
        asyncio.run(serve(bot, token))
    except discord.LoginFailure:
        log.error("Discord refused the token: check CITEBOT_BOT_TOKEN (Bot tab of the developer portal)")
        return 1
    except discord.PrivilegedIntentsRequired:
        log.error("enable the Message Content intent for this bot (developer portal, Bot tab, Privileged Intents)")
        return 1
    except KeyboardInterrupt:
        pass
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

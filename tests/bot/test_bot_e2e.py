"""End to end with the real embedding model, and the real entry point (`python -m citebot.bot`) stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from bot_harness import TOKEN, check_all_sent, discord_session, member, run
from fake_discord import FakeDiscord

from citebot.index import Engine, Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mention_answered_with_the_real_model(tmp_path: Path, corpus: Path) -> None:
    # sure_relevance 0: a corpus of four short files answers below the caution threshold (docs/guide.md,
    # CITEBOT_SURE_RELEVANCE); this test reads the plain answer, tests/bot/test_bot_ask.py the cautious one.
    settings = Settings(db_path=tmp_path / "db", docs_dir=corpus, sure_relevance=0.0, _env_file=None)
    assert settings.model == "", "the bundled all-MiniLM-L6-v2"
    engine = Engine(settings)
    engine.index()

    async def scenario() -> None:
        async with discord_session(engine) as (fake, _bot):
            question = f"<@{FakeDiscord.BOT_ID}> how long should I steep green tea?"
            await fake.post_message(question, member(), mentions=[fake.bot_user])
            replies = await fake.until(lambda: fake.replies_in(FakeDiscord.CHANNEL_ID), timeout=60, what="a reply")
            embed = replies[0]["embeds"][0]
            assert embed["description"].startswith("> Green tea is steeped at 80 degrees Celsius for two minutes.")
            assert embed["fields"][0]["value"].startswith("**1.** `tea.md:L")
            off_topic = await fake.slash("ask", {"question": "Who won the 1998 football world cup?"}, member())
            await fake.until(lambda: off_topic.followups, timeout=60, what="the off-topic reply")
            assert "found nothing" in off_topic.followups[0]["content"]
            check_all_sent(fake)

    run(scenario(), timeout=120)


LAUNCHER = """
import sys, discord, yarl
discord.http.Route.BASE = sys.argv[1]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
from citebot.bot.__main__ import main
sys.exit(main([]))
"""


def test_citebot_bot_runs_and_stops_cleanly_on_sigterm(tmp_path: Path, engine: Engine) -> None:
    """The real entry point: settings from the environment, logs on stderr without the token, exit 0 on SIGTERM."""

    async def scenario() -> tuple[int, str, FakeDiscord]:
        fake = FakeDiscord(TOKEN)
        await fake.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
        env.update({
            "CITEBOT_BOT_TOKEN": TOKEN, "CITEBOT_BOT_DEV_GUILD_ID": str(FakeDiscord.GUILD_ID),
            "CITEBOT_BOT_LOG_LEVEL": "DEBUG", "CITEBOT_BOT_WARM_UP": "false", "CITEBOT_MODEL": "hash",
            "CITEBOT_DB_PATH": str(engine.settings.db_path), "CITEBOT_DOCS_DIR": str(engine.settings.docs_dir),
            "PYTHONPATH": str(REPO),
        })
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LAUNCHER, fake.api_base, str(fake.gateway_url), cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            await fake.until(lambda: fake.identified and fake.commands.get(FakeDiscord.GUILD_ID), timeout=30,
                             what="the bot to log in and sync")
            ask = await fake.slash("ask", {"question": "When should roses be pruned?"}, member())
            await fake.until(lambda: ask.followups, timeout=20, what="an answer from the subprocess")
            assert "Prune roses" in ask.followups[0]["embeds"][0]["description"]
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 20)
            return proc.returncode or 0, err.decode(), fake
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await fake.stop()

    code, stderr, _fake = run(scenario(), timeout=90)
    assert code == 0, stderr
    assert "shutting down" in stderr and "stopped" in stderr
    assert "DEBUG" in stderr and TOKEN not in stderr
    assert "Traceback" not in stderr

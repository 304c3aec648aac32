"""The bot against a real `chroma run` server that goes away and comes back: one-line messages, then recovery."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from bot_harness import check_all_sent, discord_session, member, run
from fake_discord import EPHEMERAL, MANAGE_GUILD

from citebot.index import Engine, Settings
from tests.chroma_server import CHROMA, ChromaServer, free_port


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    if not CHROMA.exists():
        pytest.skip("the chroma CLI is not installed")
    server = ChromaServer(tmp_path / "chroma", free_port(), tmp_path / "chroma.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_chroma_server_down_then_back(chroma_server: ChromaServer, corpus: Path, tmp_path: Path) -> None:
    settings = Settings(
        docs_dir=corpus, chroma_host="127.0.0.1", chroma_port=chroma_server.port, state_dir=tmp_path / "state",
        model="hash", _env_file=None,
    )
    engine = Engine(settings)
    engine.index()
    down = f"Cannot reach the Chroma server at 127.0.0.1:{chroma_server.port}"

    async def scenario() -> None:
        async with discord_session(engine) as (fake, _bot):
            before = await fake.slash("ask", {"question": "When should roses be pruned?"}, member())
            await fake.until(lambda: before.followups, what="an answer from the server")
            assert "Prune roses" in before.followups[0]["embeds"][0]["description"]

            await asyncio.to_thread(chroma_server.stop)
            ask = await fake.slash("ask", {"question": "When should roses be pruned?"}, member())
            reindex = await fake.slash("reindex", user=member(), permissions=MANAGE_GUILD)
            status = await fake.slash("status", user=member())
            await fake.until(lambda: ask.followups and status.replies and any(
                "not done" in (e.get("content") or "") for e in reindex.edits), timeout=30, what="the down replies")
            # A member reads a plain sentence (no host); the admin who ran /reindex reads the details.
            assert ask.followups[0]["content"].startswith("I can't reach the document index right now")
            assert int(ask.followups[0]["flags"]) & EPHEMERAL
            assert reindex.edits[-1]["content"].endswith(f"not done: {down[0].lower()}{down[1:]}")
            assert status.replies[0]["embeds"][0]["fields"][0]["value"] == "4", "/status reads the manifest"

            await asyncio.to_thread(chroma_server.start)
            after = await fake.slash("ask", {"question": "When should roses be pruned?"}, member())
            await fake.until(lambda: after.followups, timeout=30, what="an answer after the server returned")
            assert "Prune roses" in after.followups[0]["embeds"][0]["description"]
            check_all_sent(fake)

    run(scenario(), timeout=90)

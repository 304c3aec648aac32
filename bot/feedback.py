"""Answers recorded for feedback: the 👍 / 👎 / "still need help?" buttons under an answer.

``answer_items`` records an answer (when the settings allow storing questions) and returns the buttons the
reply carries; the ask cog adds them to the answer's view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from citebot.index import Answer

if TYPE_CHECKING:
    from .client import CitebotBot


def answer_items(
    bot: CitebotBot, answer: Answer, *, guild_id: int | None, channel_id: int | None, user_id: int
) -> list[discord.ui.Item[Any]]:
    """Record ``answer`` and return the feedback buttons for its reply (none yet: filled in by issue 11)."""
    return []

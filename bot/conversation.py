"""A conversation read back from Discord: the bot's earlier answers, their questions and their citations.

The bot keeps no conversation in memory. A follow-up's context is the answer it replies to, or the latest
answers in the thread it is in, read from Discord; a Show passage click after a restart reads the citations
from the answer's own embed. So both survive restarts, and memory stays bounded whatever members do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import discord

from citebot.index.followup import MAX_CONTEXT_TURNS, Turn

from .render import READ_WITH, SEE_ALSO, full_paths

# One cited source as render.py writes it: "`path:L3-L9` · line 5" (or "`path:3` · line 3"), perhaps a link.
CITATION = re.compile(
    r"`(?P<path>[^`\n]+):(?:L(?P<start>\d+)-L(?P<end>\d+)|(?P<single>\d+))`(?:\]\([^)\s]*\))?(?: · line (?P<line>\d+))?"
)
_MARKDOWN_ESCAPE = re.compile(r"\\([\\*_`~|>#\[\]()\-.!<:])")


@dataclass(frozen=True)
class Cited:
    """A source an answer cited, as its message shows it (the path may be shortened with an ellipsis)."""

    source: str
    line_start: int
    line_end: int
    line: int


def is_answer(message: discord.Message, bot_id: int) -> bool:
    """A cited answer the bot sent: its embed has the question as title and a Sources field."""
    return message.author.id == bot_id and bool(message.embeds) and any(
        f.name == "Sources" for f in message.embeds[0].fields
    )


def unescape(text: str) -> str:
    """Embed text as the member wrote it: markdown escapes and the mention-breaking zero-width space removed."""
    return _MARKDOWN_ESCAPE.sub(r"\1", text).replace("@\u200b", "@")


def citations(message: discord.Message) -> list[Cited]:
    """The sources an answer message cites, Sources then See also, in order."""
    if not message.embeds:
        return []
    out: list[Cited] = []
    for field in message.embeds[0].fields:
        if field.name not in ("Sources", SEE_ALSO):
            continue
        for m in CITATION.finditer(field.value or ""):
            start = int(m["start"] or m["single"])
            end = int(m["end"] or m["single"])
            out.append(Cited(m["path"].replace("ˋ", "`"), start, end, int(m["line"] or start)))
    return out


def with_full_paths(turns: Sequence[Turn], indexed: Callable[[], list[str]]) -> list[Turn]:
    """``turns`` with each source shown shortened replaced by the indexed file it stands for (``indexed`` is
    called only when one is), so that a follow-up can tell it is answered from the same file. Blocking: call it
    where the search runs."""
    found = iter(full_paths([s for t in turns for s in t.sources], indexed))
    return [replace(t, sources=tuple(next(found) or s for s in t.sources)) for t in turns]


def turns_of(message: discord.Message) -> list[Turn]:
    """The turns one answer stands for, most recent first: its question, then what it was read with."""
    embed = message.embeds[0]
    question = unescape(embed.title or "").removesuffix("…")
    turns = [Turn(question, tuple(c.source for c in citations(message)))]
    footer = (embed.footer.text or "") if embed.footer else ""
    if footer.startswith(READ_WITH):
        turns.append(Turn(footer.removeprefix(READ_WITH).split("\n", 1)[0].removesuffix("…")))
    return turns


async def referenced_message(message: discord.Message) -> discord.Message | None:
    """The message ``message`` replies to: from the event when Discord sent it along, else fetched."""
    ref = message.reference
    if ref is None or ref.message_id is None:
        return None
    if isinstance(ref.resolved, discord.Message):
        return ref.resolved
    if isinstance(ref.resolved, discord.DeletedReferencedMessage):
        return None
    try:
        return await message.channel.fetch_message(ref.message_id)
    except discord.HTTPException:
        return None


async def thread_turns(thread: discord.Thread, bot_id: int, history: int, before: discord.Message) -> list[Turn]:
    """The turns of the bot's latest answers in ``thread`` (at most ``history`` messages read back)."""
    turns: list[Turn] = []
    try:
        async for earlier in thread.history(limit=history, before=before):
            if is_answer(earlier, bot_id):
                turns.extend(turns_of(earlier))
                if len(turns) >= MAX_CONTEXT_TURNS:
                    break
    except discord.HTTPException:
        return turns  # a thread the bot cannot read back: the follow-up is answered on its own
    return turns[:MAX_CONTEXT_TURNS]

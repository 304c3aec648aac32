"""Answers, passages and status as Discord embeds that always fit Discord's limits.

Document text is untrusted: it is escaped so it cannot break the embed's markdown, and trimmed so a long
line or passage shortens the reply instead of making Discord reject it. Every send also uses
``NO_MENTIONS`` so nothing quoted can ping anyone.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import discord
from discord.utils import escape_markdown, escape_mentions

from citebot.index import CELL_SEPARATOR, TENTATIVE_NOTE, Answer, Hit, Stats


@dataclass(frozen=True)
class Limits:
    """Discord's documented maximums (characters)."""

    content: int = 2000
    title: int = 256
    description: int = 4096
    field_name: int = 256
    field_value: int = 1024
    footer: int = 2048
    embed: int = 6000  # all text of all embeds of one message together
    embeds: int = 10


LIMITS = Limits()
NO_MENTIONS = discord.AllowedMentions.none()
ELLIPSIS = "…"
ANSWER_COLOUR = discord.Colour.blurple()
TENTATIVE_COLOUR = discord.Colour.light_grey()  # an answer the documents may not give (``Answer.tentative``)
PASSAGE_COLOUR = discord.Colour.dark_teal()
NO_ANSWER = (
    "I found nothing in the indexed documents that answers this, so I won't guess. "
    "Try other words, or ask about something the documents cover."
)
APOLOGY = "Sorry, something went wrong on my side. It has been logged; please try again in a moment."
# The one line an ask-channel gets when nothing answers (a mention or /ask gets NO_ANSWER): short, because the
# channel is a conversation, with the nearest section titles when there are any.
NOT_FOUND_HERE = "I found nothing in the documents that answers this."
NEAREST = " Nearest sections: {sections}."
FOOTER = "Press Show passage to read the cited lines."
READ_WITH = "Read as a follow-up to: "  # the footer's prefix when earlier turns shaped the search (exts/ask)
SEE_ALSO = "See also"

# How trimming and the layout spend Discord's limits (``Limits`` above). Layout choices, not measurements:
# named here so that each trade-off is stated once.
WORD_CUT_KEEP = 3 / 4  # trim() backs up to a space only if that keeps at least this share of the text
PATH_CHARS = 120  # a cited path longer than this keeps its start and its file name (most repo paths fit whole)
SHORT_PATH_CHARS = 60  # the same, for a source line that would otherwise take over half the Sources field
LINK_URL_CHARS = LIMITS.field_value // 2  # a longer link would leave the Sources field room for one source
ALSO_AT_SHOWN = 8  # other line numbers listed under a passage whose answering line repeats; the rest counted
MIN_PASSAGE_CHARS = 200  # a passage with less room than this is not shown, only counted in the note
MIN_ROW_CHARS = 80  # a passage line is trimmed to a quarter of the block, but never below this
ELISION = "⋮"  # marks lines left out above or below the window around the answering line, or the passage
ELISION_ROOM = 2 * (len(ELISION) + 1)  # a ⋮ row above and below
NOT_SHOWN = "{n} more passage(s) not shown: Discord limits one message's length."
# A quoted answering line that is part of a sentence wrapped over several lines is quoted with the lines it
# continues from and into, at most this many each way: a hard-wrapped paragraph line (~80 characters) times
# three covers the long sentences of prose documentation without quoting a whole paragraph.
JOIN_LINES = 3
SENTENCE_END = re.compile(r"[.!?:;。！？]['\")\]*_`]*$")
# Lines that start something of their own: a list item, a heading, a quote, a table row, a code fence.
BLOCK_START = re.compile(r"^\s*([-*+>#|]|\d+[.)]\s|```|~~~)")
SUM_CHARS = 6  # hex characters of a passage's fingerprint in the button (24 bits: a changed file is noticed)


def trim(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters at a word boundary when one is near, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return text[:limit]
    cut = text[: limit - len(ELLIPSIS)]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space >= int(len(cut) * WORD_CUT_KEEP):
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def fit(text: str, limit: int, transform: Callable[[str], str]) -> str:
    """``transform(trimmed text)`` no longer than ``limit``; trims before transforming so no escape is cut."""
    budget = limit
    while True:
        out = transform(trim(text, budget))
        if len(out) <= limit or budget <= 1:
            return out[:limit]
        budget -= max(1, len(out) - limit)


def escape(text: str) -> str:
    """Document or user text made inert: no markdown, no mentions."""
    return escape_mentions(escape_markdown(text))


def safe_code(text: str) -> str:
    """Text for an inline code span or code block: backticks are the only thing that can break out."""
    return text.replace("`", "ˋ")


def short_path(path: str, limit: int = PATH_CHARS) -> str:
    """Long paths keep their start and their file name."""
    if len(path) <= limit:
        return path
    head = limit // 3
    return path[:head] + ELLIPSIS + path[-(limit - head - 1):]


def full_path(shown: str, known: Iterable[str]) -> str | None:
    """The path ``short_path`` shortened to ``shown``, found among ``known``; ``shown`` itself when it was not
    shortened; None when no known path, or more than one, fits."""
    paths = list(known)
    if ELLIPSIS not in shown or shown in paths:  # not shortened (or a file name with an ellipsis of its own)
        return shown
    head, tail = shown.split(ELLIPSIS, 1)
    fits = [p for p in paths if len(p) > len(shown) and p.startswith(head) and p.endswith(tail)]
    return fits[0] if len(fits) == 1 else None


def full_paths(shown: Sequence[str], indexed: Callable[[], list[str]]) -> list[str | None]:
    """``full_path`` of each path shown, the indexed files listed (``indexed``, blocking) once and only when one
    of them was shortened."""
    if not any(ELLIPSIS in s for s in shown):
        return list(shown)
    known = indexed()
    return [full_path(s, known) for s in shown]


def source_url(hit: Hit, template: str | None) -> str | None:
    if not template:
        return None
    return template.format(path=quote(hit.source, safe="/"), start=hit.line_start, end=hit.line_end, line=hit.line)


def citation(hit: Hit, template: str | None) -> str:
    """``path:Lstart-Lend`` in code style, a link when a URL template is configured."""
    label = f"`{safe_code(short_path(hit.source))}:{_lines(hit)}`"
    url = source_url(hit, template)
    if url and len(url) <= LINK_URL_CHARS and " " not in url and ")" not in url:
        return f"[{label}]({url})"
    return label


def _lines(hit: Hit) -> str:
    return str(hit.line_start) if hit.line_start == hit.line_end else f"L{hit.line_start}-L{hit.line_end}"


def answer_embed(
    answer: Answer, max_sources: int = 3, url_template: str | None = None, see_also_margin: float | None = None,
    read_with: str | None = None,
) -> discord.Embed:
    """The answering sentence quoted, then up to ``max_sources`` cited passages; requires a non-empty answer.

    Sources scoring more than ``see_also_margin`` below the best are listed apart, under "See also"; with
    ``read_with`` (the earlier question a follow-up was searched with) the footer says so. A tentative answer
    says first, in grey, that the documents may not answer the question.
    """
    hits = answer.hits[:max_sources]
    best = hits[0]
    first, last, sentence = quoted_span(best)
    lines = str(best.line) if first == last else f"L{first}-L{last}"
    caution = f"*{TENTATIVE_NOTE}*\n" if answer.tentative else ""
    attribution = f"\n— `{safe_code(short_path(best.source))}:{lines}`"
    quote_limit = LIMITS.description - len(caution) - len(attribution) - 2
    quoted = fit(sentence or "(blank line)", quote_limit, lambda t: "> " + escape(t))
    embed = discord.Embed(
        title=fit(answer.question, LIMITS.title, escape),
        description=caution + quoted + attribution,
        colour=TENTATIVE_COLOUR if answer.tentative else ANSWER_COLOUR,
    )
    strong, weak = split_sources(hits, see_also_margin)
    embed.add_field(name="Sources", value=_sources_value(strong, url_template), inline=False)
    if weak:
        embed.add_field(name=SEE_ALSO, value=_sources_value(weak, url_template, len(strong), brief=True),
                        inline=False)
    footer = FOOTER
    if read_with:
        footer = READ_WITH + trim(" ".join(read_with.split()), LIMITS.footer // 2) + "\n" + FOOTER
    embed.set_footer(text=footer)
    _shrink_to_total(embed)
    return embed


def split_sources(hits: Sequence[Hit], margin: float | None) -> tuple[list[Hit], list[Hit]]:
    """(the sources close to the best, the weaker ones): those scoring more than ``margin`` below the best."""
    if margin is None or not hits:
        return list(hits), []
    floor = hits[0].score - margin
    return [hits[0], *(h for h in hits[1:] if h.score >= floor)], [h for h in hits[1:] if h.score < floor]


def quoted_span(hit: Hit) -> tuple[int, int, str]:
    """The answering line with the lines its sentence wraps over: (first line, last line, text on one line).

    Hard-wrapped prose splits sentences over lines, and the answering line alone is then a fragment ("rather
    than a little every day."). A line continues the one before when that one ends mid-sentence and it starts
    in lower case; blank lines, list items, headings and code fences never join.
    """
    lines = hit.lines or [(hit.line_start + i, t) for i, t in enumerate(hit.text.split("\n"))]
    at = next((i for i, (n, _) in enumerate(lines) if n == hit.line), None)
    if at is None:
        return hit.line, hit.line, " ".join(hit.line_text.split())
    lo = hi = at
    while lo > 0 and at - lo < JOIN_LINES and _continues(lines[lo - 1][1], lines[lo][1]):
        lo -= 1
    while hi + 1 < len(lines) and hi - at < JOIN_LINES and _continues(lines[hi][1], lines[hi + 1][1]):
        hi += 1
    text = " ".join(" ".join(t.split()) for _, t in lines[lo : hi + 1])
    return lines[lo][0], lines[hi][0], text


def _continues(before: str, after: str) -> bool:
    """Whether ``after`` is the rest of a sentence that ``before`` (the line above it) left unfinished."""
    before, after = before.rstrip(), after.strip()
    if not before.strip() or not after or SENTENCE_END.search(before):
        return False
    if BLOCK_START.match(after) or BLOCK_START.match(before) and before.lstrip().startswith(("```", "~~~", "#")):
        return False
    if CELL_SEPARATOR in before and CELL_SEPARATOR in after:  # two rows of a table (structure.table_row_text)
        return False
    return after[0].islower() or after[0] in "`("


def fingerprint(hit: Hit) -> str:
    """A short fingerprint of a cited passage's text: a later Show passage notices when the file changed."""
    return hashlib.sha256(hit.text.encode("utf-8", "surrogatepass")).hexdigest()[:SUM_CHARS]


def _sources_value(hits: Sequence[Hit], url_template: str | None, offset: int = 0, brief: bool = False) -> str:
    """One numbered line a source; lines that would pass the field limit are counted instead of shown."""
    lines: list[str] = []
    for n, hit in enumerate(hits, offset + 1):
        line = f"**{n}.** {citation(hit, url_template)} · line {hit.line}"
        if brief:  # "See also": smaller, plain numbers and no bold
            line = f"{n}. {citation(hit, url_template)} · line {hit.line}"
        if len(line) > LIMITS.field_value // 2:
            line = f"**{n}.** `{safe_code(short_path(hit.source, SHORT_PATH_CHARS))}:{_lines(hit)}` · line {hit.line}"
        rest = len(hits) - (n - offset)
        more = f"\n… and {rest} more" if rest else ""
        if len("\n".join([*lines, line])) + len(more) > LIMITS.field_value:
            lines.append(f"… and {rest + 1} more")
            break
        lines.append(line)
    return "\n".join(lines)


def _shrink_to_total(embed: discord.Embed) -> None:
    """Keep the embed under the 6,000-character total by shortening its description."""
    excess = len(embed) - LIMITS.embed
    if excess > 0 and embed.description:
        embed.description = trim(embed.description, len(embed.description) - excess)


def passage_embeds(hits: Sequence[Hit], url_template: str | None = None) -> list[discord.Embed]:
    """Each cited passage with its line numbers (the answering line marked), within one message's limits.

    Each passage's room leaves space for its footer and for the "not shown" note that may join it, so the
    message's embeds stay within the 6,000-character total whatever the footers say.
    """
    embeds: list[discord.Embed] = []
    budget = LIMITS.embed
    note_room = len(NOT_SHOWN.format(n=len(hits))) + 1
    for hit in hits[: LIMITS.embeds]:
        title = fit(f"{short_path(hit.source)}:{_lines(hit)}", LIMITS.title, escape_markdown)
        footer = _also_at(hit)
        room = min(LIMITS.description, budget - len(title) - len(footer) - note_room)
        if room < MIN_PASSAGE_CHARS:
            break
        embed = discord.Embed(
            title=title, url=source_url(hit, url_template), description=numbered_block(hit, room),
            colour=PASSAGE_COLOUR,
        )
        if footer:
            embed.set_footer(text=footer)
        budget -= len(embed)
        embeds.append(embed)
    if len(embeds) < len(hits) and embeds:
        last = embeds[-1]
        note = NOT_SHOWN.format(n=len(hits) - len(embeds))
        last.set_footer(text=f"{note} {last.footer.text or ''}".strip())
    return embeds


def _also_at(hit: Hit) -> str:
    """The footer naming the other lines where the answering line appears, or ``""``."""
    if not hit.also_at:
        return ""
    also = ", ".join(str(n) for n in hit.also_at[:ALSO_AT_SHOWN])
    more = f" and {len(hit.also_at) - ALSO_AT_SHOWN} more" if len(hit.also_at) > ALSO_AT_SHOWN else ""
    return f"The marked line also appears at line(s) {also}{more}."


def numbered_block(hit: Hit, limit: int) -> str:
    """The passage in a code block, one numbered line each, a window around the answering line if too long."""
    lines = hit.lines or [(hit.line_start + i, t) for i, t in enumerate(hit.text.split("\n"))]
    width = len(str(max(n for n, _ in lines))) if lines else 1
    rows = [f"{n:>{width}} {'▶' if n == hit.line else ' '} {safe_code(text)}" for n, text in lines]
    per_line = max(MIN_ROW_CHARS, limit // 4)
    rows = [trim(r, per_line) for r in rows]
    focus = next((i for i, (n, _) in enumerate(lines) if n == hit.line), 0)
    budget = limit - len("```\n\n```") - 2 * ELISION_ROOM  # the ⋮ rows' room, and as much again to spare
    lo = hi = focus
    used = len(rows[focus]) + 1 if rows else 0
    while True:
        grew = False
        if hi + 1 < len(rows) and used + len(rows[hi + 1]) + 1 <= budget:
            hi += 1
            used += len(rows[hi]) + 1
            grew = True
        if lo > 0 and used + len(rows[lo - 1]) + 1 <= budget:
            lo -= 1
            used += len(rows[lo]) + 1
            grew = True
        if not grew:
            break
    shown = rows[lo : hi + 1]
    # Rows left out of the window, or a code block too long to cite whole going on past the passage.
    if lo > 0 or hit.continues_above:
        shown.insert(0, ELISION)
    if hi + 1 < len(rows) or hit.continues_below:
        shown.append(ELISION)
    return "```\n" + "\n".join(shown) + "\n```"


def status_embed(
    stats: Stats, reindex_running: bool, ask_channels: Sequence[int] = (), show_folder: bool = False
) -> discord.Embed:
    """What is indexed and when: the /status reply. The server's folder only with ``show_folder`` (for admins:
    a member never sees a server path)."""
    embed = discord.Embed(title="citebot status", colour=ANSWER_COLOUR)
    embed.add_field(name="Files", value=f"{stats.files:,}")
    embed.add_field(name="Chunks", value=f"{stats.chunks:,}")
    embed.add_field(name="Model", value=trim(escape(stats.model or "unknown"), LIMITS.field_value))
    built = f"<t:{int(stats.built_at)}:f> (<t:{int(stats.built_at)}:R>)" if stats.built_at else "never"
    embed.add_field(name="Last indexed", value=built)
    embed.add_field(name="Re-index", value="running now" if reindex_running else "idle")
    if ask_channels:
        embed.add_field(name="Ask channels", value=trim(" ".join(f"<#{c}>" for c in ask_channels), LIMITS.field_value))
    if stats.root and show_folder:
        embed.add_field(name="Folder", value=fit(stats.root, LIMITS.field_value, lambda t: f"`{safe_code(t)}`"),
                        inline=False)
    if not stats.generation:
        embed.description = "Nothing is indexed yet: an admin can run /reindex."
    return embed


def help_embed(bot_name: str, ask_channels: Sequence[int], max_chars: int, admin_roles: Sequence[str]) -> discord.Embed:
    """The /help reply: what the bot does and how to ask."""
    where = " ".join(f"<#{c}>" for c in ask_channels)
    lines = [
        "I answer questions from the documents this server indexed, and every answer cites "
        "`file:Lstart-Lend` so you can check it. If nothing in the documents answers, I say so.",
        "",
        "**Ask**",
        "• `/ask question:…` anywhere I can read.",
        f"• Mention me with your question: `@{escape(bot_name)} how do I …?`",
    ]
    if where:
        lines.append(f"• Or just write your question in {where}.")
    lines += [
        "• Follow up by replying to an answer (or in its thread): I read your question with the conversation.",
        "• Press **Show passage** under an answer to see the cited lines (only you see it), and 👍 / 👎 to say "
        "whether it helped.",
        f"Questions may be up to {max_chars:,} characters. A short, specific question works best.",
        "",
        "**Other commands**",
        "• `/status`: what is indexed and when.",
        "• `/forget-me`: delete what this bot stored about you (your votes, and your questions if it keeps them).",
        "• For admins: `/reindex` re-reads the documents, `/config` sets this server's options, `/gaps` lists what "
        "the documents did not answer (Manage Server permission"
        + (f" or role {', '.join(escape(r) for r in admin_roles)}" if admin_roles else "")
        + ").",
    ]
    return discord.Embed(title="How to use citebot", description="\n".join(lines), colour=ANSWER_COLOUR)


def not_found_line(sections: Sequence[str]) -> str:
    """The one line for an ask-channel question nothing answers, naming the nearest sections if any."""
    if not sections:
        return NOT_FOUND_HERE
    names = " · ".join(f"**{escape(trim(' '.join(s.split()), 80))}**" for s in sections)
    return trim(NOT_FOUND_HERE + NEAREST.format(sections=names), LIMITS.content)


def timestamp(seconds: float) -> str:
    """A Discord timestamp that each reader sees in their own time zone."""
    return f"<t:{int(seconds or time.time())}:R>"

"""Cut a cleaned document into chunks of whole lines that fit the model's window.

Chunks follow the document's own structure: a paragraph (lines between blank lines) stays whole
when it fits, sections start new chunks, and only a paragraph longer than the window is split
between lines, with ``overlap`` lines repeated so that no sentence loses its context. A single
line longer than the window is cut at sentence boundaries; every piece keeps the line's number.

A code block is one paragraph, blank lines inside it included, and a heading is packed with the
block it introduces. Each chunk carries the heading path of its first line as context: embedded
with the passage (see ``embedded_text``), never displayed.

What is embedded, stored and shown for a line is its reader text (``structure.reader_text``: roles
resolved, heading anchors and tags dropped), under the line's own number. A line a reader never
sees (a section underline, a script, an option of a directive) is not chunked; a markup line (an
admonition marker, a heading) is chunked as context and flagged so that it never answers.

The work is three steps: structure (``formats.line_structure``: headings, code blocks, markup,
reader text, per format), units (kept lines, over-long ones cut, grouped into paragraphs) and
packing (paragraphs into chunks that fit the window with their context).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .cleaner import Cleaned
from .formats import line_structure
from .prose import prose_score
from .structure import PATH_SEPARATOR, LineInfo, reader_text

TokenCounter = Callable[[Sequence[str]], list[int]]

_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s+")
_SPACES = re.compile(r"\s+")
# The numbers below were set by hand when the chunker was written, not fitted on a benchmark.
MARGIN = 4  # tokens kept free: joining lines can merge or split a word piece or two
CONTEXT_SHARE = 4  # a heading path may take at most 1/CONTEXT_SHARE of the window
# A new section starts a new chunk unless the open one is this full or less: a lone title line
# (or a title and a one-line intro) then goes with the first section instead of making a chunk of its own.
SECTION_MIN_FILL = 0.3
# A paragraph too long for any chunk starts afresh only if the open chunk is at least this full;
# otherwise its first lines fill the open chunk rather than leave it half empty.
SPLIT_MIN_FILL = 0.5
# Cuts are sized from a piece's average tokens per word (or per character) and aim this far below
# the budget, because tokens are not spread evenly; the pieces are counted again before use.
CUT_AIM = 0.8
# A heading path cut to its last characters aims this far below its limit, for the same reason.
CONTEXT_CUT_AIM = 0.9


@dataclass(frozen=True)
class Unit:
    """One line, or one piece of a line too long for the window."""

    line: int  # 1-based line number in the file on disk
    text: str
    tokens: int
    paragraph: int
    heading: str = ""  # the line's heading path, shortened to fit (the context of a chunk it starts)
    also_at: tuple[int, ...] = ()  # later lines with the same text, embedded once
    markup: bool = False  # markup or a heading: context, never the answering line
    is_heading: bool = False
    code_block: int | None = None  # the code block holding it (``LineInfo.code_block``), None outside code
    piece: int = 0  # which piece of its line (0 unless the line was cut to fit the window)

    @property
    def code(self) -> bool:
        """Inside a code block."""
        return self.code_block is not None


@dataclass(frozen=True)
class Chunk:
    source: str
    units: tuple[Unit, ...]
    context: str = ""  # heading path, embedded but not displayed

    @property
    def line_start(self) -> int:
        return min(u.line for u in self.units)

    @property
    def line_end(self) -> int:
        return max(u.line for u in self.units)

    @property
    def text(self) -> str:
        return "\n".join(u.text for u in self.units)

    @property
    def code_blocks(self) -> set[int]:
        """The numbers (``LineInfo.code_block``) of the code blocks it holds lines of."""
        return {u.code_block for u in self.units if u.code_block is not None}

    @property
    def markup(self) -> list[int]:
        """Indices (into ``units``) of the units that must never be the answering line."""
        return [i for i, u in enumerate(self.units) if u.markup]

    @property
    def prose(self) -> float:
        """The share of the chunk's prose lines that are not list-shaped (``prose.prose_score``), 0..1."""
        counted = [u for u in self.units if not u.code and (u.is_heading or not u.markup)]
        return prose_score([(u.text, u.is_heading) for u in counted])


def embedded_text(context: str, text: str) -> str:
    """What the model sees for a chunk: its heading path on a line of its own above the passage."""
    return f"{context}\n{text}" if context else text


# --- long lines ---------------------------------------------------------------------------------


def _cut(text: str, pattern: re.Pattern[str]) -> list[str]:
    """Split after each match, keeping every character: the pieces concatenate back to ``text``."""
    cuts = [m.end() for m in pattern.finditer(text)]
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)]) if text[a:b]]


def split_long_line(text: str, budget: int, count: TokenCounter) -> list[tuple[str, int]]:
    """Pieces of an over-long line, at sentence ends where possible, else at spaces, else anywhere.

    The pieces concatenate back to the line exactly, so what is shown is what is on disk.
    """
    sentences = _cut(text, _SENTENCE_END) or [text]
    pieces: list[str] = []
    for sentence, n in zip(sentences, count(sentences)):
        if n <= budget:
            pieces.append(sentence)
            continue
        words = _cut(sentence, _SPACES)
        per_word = max(n / max(len(words), 1), 1.0)
        step = max(int(budget / per_word * CUT_AIM), 1)
        for i in range(0, len(words), step):
            part = "".join(words[i : i + step])
            chars = max(int(len(part) * budget / max(count([part])[0], 1) * CUT_AIM), 1)
            pieces.extend(part[j : j + chars] for j in range(0, len(part), chars))
    merged: list[tuple[str, int]] = []
    for piece, n in zip(pieces, count(pieces)):
        if merged and merged[-1][1] + n <= budget:
            merged[-1] = (merged[-1][0] + piece, merged[-1][1] + n)
        else:
            merged.append((piece, n))
    return [(piece, n) for piece, n in merged if piece.strip()] or merged[:1]


def fit_context(heading: str, limit: int, count: TokenCounter) -> str:
    """A heading path short enough to leave most of the window to the passage: outer headings go first."""
    parts = heading.split(PATH_SEPARATOR)
    while len(parts) > 1 and count([PATH_SEPARATOR.join(parts)])[0] > limit:
        parts.pop(0)
    text = PATH_SEPARATOR.join(parts)
    n = count([text])[0] if text else 0
    if n > limit:
        text = text[: max(int(len(text) * limit / n * CONTEXT_CUT_AIM), 0)].rstrip()
    return text


# --- units: kept lines, grouped into paragraphs -----------------------------------------------------


def _kept_lines(
    cleaned: Cleaned, infos: Sequence[LineInfo], shown: Sequence[str]
) -> tuple[list[int], dict[int, list[int]]]:
    """0-based lines to chunk, and for each the 1-based later lines with the same text.

    Front matter is left out of the chunks: it is metadata for a site generator, and what a reader
    would ask about in it (title, description) is usually repeated in the first heading and intro.
    So are lines a reader never sees (their reader text is empty). A line repeating a line left out
    is therefore chunked in its own right.
    """
    absent = [info.front_matter or not text.strip() for info, text in zip(infos, shown)]
    keep = [k and not out for k, out in zip(cleaned.keep, absent)]
    also: dict[int, list[int]] = {}
    home: dict[int, int] = {}  # a line left out -> the first kept line repeating it
    for dup, first in sorted(cleaned.duplicate_of.items()):
        if absent[dup]:
            continue
        if absent[first]:
            if home.setdefault(first, dup) == dup:
                keep[dup] = True
                continue
            first = home[first]
        also.setdefault(first, []).append(dup + 1)
    return [k for k, yes in enumerate(keep) if yes], also


def _starts_paragraph(shown: Sequence[str], infos: Sequence[LineInfo], prev: int, k: int, lead: int) -> bool:
    """Whether kept line ``k`` starts a paragraph after kept line ``prev`` (``lead`` starts prev's);
    ``shown`` is the reader text, in which a hidden line (an underline, a directive's options) is blank."""
    if prev < 0:
        return True
    here, before = infos[k], infos[prev]
    if here.heading != before.heading:
        return True  # a new section
    if here.is_heading:
        return not (before.is_heading and k == prev + 1)  # a setext title and its underline are one
    if all(infos[j].is_heading or infos[j].markup and infos[j].code_block is None for j in range(lead, prev + 1)):
        # A heading or a marker ("Note: ...", a tab's title) is packed with the block it introduces; a code block
        # is its own paragraph even when no line of it can answer (a fence holding only an include).
        return False
    if here.code_block != before.code_block:
        return True  # a code block is a paragraph of its own
    gap = range(prev + 1, k)
    if here.in_table and all(infos[j].in_table for j in range(prev, k)):
        return False  # a table's hidden rule parts no rows: its header row stays with them
    return here.code_block is None and any(not shown[j].strip() for j in gap)


def _paragraphs(
    shown: Sequence[str],
    cleaned: Cleaned,
    infos: Sequence[LineInfo],
    contexts: Sequence[str],
    context_tokens: Mapping[str, int],
    window: int,
    count: TokenCounter,
) -> list[list[Unit]]:
    """Kept lines as Units, over-long lines cut to fit a chunk with their context, grouped in paragraphs."""
    kept, also = _kept_lines(cleaned, infos, shown)
    paragraphs: list[list[Unit]] = []
    prev = lead = -1
    for k, n in zip(kept, count([shown[k] for k in kept])):
        if _starts_paragraph(shown, infos, prev, k, lead):
            paragraphs.append([])
            lead = k
        prev = k
        heading = contexts[k]
        budget = window - context_tokens[heading] - MARGIN
        pieces = split_long_line(shown[k], budget, count) if n > budget else [(shown[k], n)]
        info = infos[k]
        for piece, (text, tokens) in enumerate(pieces):
            paragraphs[-1].append(
                Unit(k + 1, text, tokens, len(paragraphs) - 1, heading, tuple(also.get(k, ())),
                     info.markup or info.is_heading, info.is_heading, info.code_block, piece)
            )
    return paragraphs


# --- packing: paragraphs into chunks ----------------------------------------------------------------


@dataclass
class _Packer:
    """Fills chunks in order. A chunk's context is its first unit's heading, so its room is sized by that."""

    window: int
    overlap: int
    context_tokens: Mapping[str, int]
    chunks: list[list[Unit]] = field(default_factory=list)
    current: list[Unit] = field(default_factory=list)
    used: int = 0  # tokens of the open chunk's text, one per line break included

    def budget(self, heading: str) -> int:
        """Tokens of text a chunk with this context may hold."""
        return self.window - self.context_tokens[heading] - MARGIN

    def room(self, unit: Unit) -> int:
        """Tokens left for ``unit`` and what follows: in the open chunk, or a new one if none is open."""
        lead = self.current[0] if self.current else unit
        return self.budget(lead.heading) - self.used

    def fill(self) -> float:
        return self.used / max(self.budget(self.current[0].heading), 1) if self.current else 0.0

    def close(self) -> None:
        if self.current:
            self.chunks.append(self.current)
        self.current, self.used = [], 0

    def add(self, unit: Unit) -> None:
        self.current.append(unit)
        self.used += unit.tokens + 1

    def add_split(self, units: Sequence[Unit]) -> None:
        """Add a paragraph too long for one chunk line by line, overlapping at each cut."""
        for unit in units:
            if self.current and unit.tokens + 1 > self.room(unit):
                tail = self.current[-self.overlap :] if self.overlap else []
                carried = [u for u in tail if u.paragraph == unit.paragraph]
                self.close()
                for u in carried:
                    if u.tokens + unit.tokens + 2 <= self.room(u):
                        self.add(u)
            self.add(unit)


def _leads_in(paragraph: Sequence[Unit], following: Sequence[Unit]) -> bool:
    """Whether prose ``paragraph`` introduces ``following`` ("Waiting until the bot is ready before the loop
    starts:" over a code block, "using the following parameters:" over a list, "For example::"): its last
    line ends in a colon, and what it introduces comes next in the same section. Documentation states what an
    example or a list is for only there, in the words a member asks in."""
    last, first = paragraph[-1], following[0]
    return (not last.code and not last.markup and last.text.rstrip().endswith(":")
            and not first.is_heading and first.heading == last.heading)


def _join_lead_ins(paragraphs: Sequence[list[Unit]], budget: Callable[[str], int]) -> list[list[Unit]]:
    """Each lead-in paragraph joined with the paragraph it introduces, where both fit one chunk: packed
    apart, the sentence closed one chunk and its example (or list) opened the next, and neither chunk said
    what the example is for. Measured on the dev sets against joining only code blocks: one more pydantic
    question in the first five and two more answering lines, one Textual question off the top."""
    joined: list[list[Unit]] = []
    k = 0
    while k < len(paragraphs):
        here = paragraphs[k]
        if k + 1 < len(paragraphs) and _leads_in(here, paragraphs[k + 1]):
            both = [*here, *paragraphs[k + 1]]
            if sum(u.tokens + 1 for u in both) <= budget(here[0].heading):
                joined.append(both)
                k += 2
                continue
        joined.append(here)
        k += 1
    return joined


def _pack(
    paragraphs: Sequence[list[Unit]], window: int, overlap: int, context_tokens: Mapping[str, int]
) -> list[list[Unit]]:
    """Paragraphs into chunks: whole where they fit, new sections in new chunks, long ones split."""
    packer = _Packer(window, overlap, context_tokens)
    for paragraph in _join_lead_ins(paragraphs, packer.budget):
        lead = paragraph[0]
        if packer.current and lead.heading != packer.current[-1].heading and packer.fill() >= SECTION_MIN_FILL:
            packer.close()
        size = sum(u.tokens + 1 for u in paragraph)
        if size <= packer.room(lead):
            for u in paragraph:
                packer.add(u)
        elif size <= packer.budget(lead.heading):
            packer.close()
            for u in paragraph:
                packer.add(u)
        else:
            if packer.fill() >= SPLIT_MIN_FILL:
                packer.close()
            packer.add_split(paragraph)
    packer.close()
    return packer.chunks


def chunk_document(
    source: str,
    lines: Sequence[str],
    cleaned: Cleaned,
    max_tokens: int,
    count_tokens: TokenCounter,
    overlap: int = 1,
    infos: Sequence[LineInfo] | None = None,
) -> list[Chunk]:
    """Chunks covering every kept line of ``lines`` (front matter and lines a reader never sees aside),
    each within ``max_tokens`` model tokens together with its context. ``infos`` is the file's
    ``line_structure`` when the caller has it already (to clean the reader text, as the indexer does)."""
    if infos is None:
        infos = line_structure(source, lines)
    shown = [reader_text(line, info) for line, info in zip(lines, infos, strict=True)]
    short = {h: fit_context(h, max_tokens // CONTEXT_SHARE, count_tokens) for h in {i.heading for i in infos}}
    contexts = [short[i.heading] for i in infos]
    names = sorted(set(short.values()))
    context_tokens = {h: (n if h else 0) for h, n in zip(names, count_tokens(names))}
    paragraphs = _paragraphs(shown, cleaned, infos, contexts, context_tokens, max_tokens, count_tokens)
    groups = _pack(paragraphs, max_tokens, overlap, context_tokens)
    return [Chunk(source, tuple(g), g[0].heading) for g in groups if g]

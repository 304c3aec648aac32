"""Cut a cleaned document into chunks of whole lines that fit the model's window.

Chunks follow the document's own structure: a paragraph (lines between blank lines) stays whole
when it fits, sections start new chunks, and only a paragraph longer than the window is split
between lines, with ``overlap`` lines repeated so that no sentence loses its context. A single
line longer than the window is cut at sentence boundaries; every piece keeps the line's number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .cleaner import Cleaned

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s+")
MARKDOWN_SUFFIXES = (".md", ".markdown")
_SPACES = re.compile(r"\s+")
_MARGIN = 4  # tokens kept free: joining lines can merge or split a word piece or two
CONTEXT_SHARE = 4  # a heading path may take at most 1/CONTEXT_SHARE of the window


@dataclass(frozen=True)
class Unit:
    """One line, or one piece of a line too long for the window."""

    line: int  # 1-based line number in the file on disk
    text: str
    tokens: int
    paragraph: int
    heading: str = ""
    also_at: tuple[int, ...] = ()  # later lines with the same text, embedded once


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
    def embed_text(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text



@dataclass
class _Packer:
    budget: int
    overlap: int
    chunks: list[list[Unit]] = field(default_factory=list)
    current: list[Unit] = field(default_factory=list)
    used: int = 0

    def close(self) -> None:
        if self.current:
            self.chunks.append(self.current)
        self.current, self.used = [], 0

    def add(self, unit: Unit) -> None:
        self.current.append(unit)
        self.used += unit.tokens + 1

    def room(self) -> int:
        return self.budget - self.used

    def add_split(self, units: Sequence[Unit]) -> None:
        """Add a paragraph too long for one chunk line by line, overlapping at each cut."""
        for unit in units:
            if self.current and unit.tokens + 1 > self.room():
                tail = self.current[-self.overlap :] if self.overlap else []
                carried = [u for u in tail if u.paragraph == unit.paragraph]
                self.close()
                for u in carried:
                    if u.tokens + unit.tokens + 2 <= self.room():
                        self.add(u)
            self.add(unit)


def _cut(text: str, pattern: re.Pattern[str]) -> list[str]:
    """Split after each match, keeping every character: the pieces concatenate back to ``text``."""
    cuts = [m.end() for m in pattern.finditer(text)]
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)]) if text[a:b]]


def split_long_line(text: str, budget: int, count: Callable[[Sequence[str]], list[int]]) -> list[tuple[str, int]]:
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
        step = max(int(budget / per_word * 0.8), 1)
        for i in range(0, len(words), step):
            part = "".join(words[i : i + step])
            chars = max(int(len(part) * budget / max(count([part])[0], 1) * 0.8), 1)
            pieces.extend(part[j : j + chars] for j in range(0, len(part), chars))
    merged: list[tuple[str, int]] = []
    for piece, n in zip(pieces, count(pieces)):
        if merged and merged[-1][1] + n <= budget:
            merged[-1] = (merged[-1][0] + piece, merged[-1][1] + n)
        else:
            merged.append((piece, n))
    return [(piece, n) for piece, n in merged if piece.strip()] or merged[:1]


def fit_context(heading: str, limit: int, count: Callable[[Sequence[str]], list[int]]) -> str:
    """A heading path short enough to leave most of the window to the passage: outer headings go first."""
    parts = heading.split(" > ")
    while len(parts) > 1 and count([" > ".join(parts)])[0] > limit:
        parts.pop(0)
    text = " > ".join(parts)
    n = count([text])[0] if text else 0
    if n > limit:
        text = text[: max(int(len(text) * limit / n * 0.9), 0)].rstrip()
    return text


def heading_paths(lines: Sequence[str]) -> list[str]:
    """For each line, the Markdown heading path above it (``Title > Section``)."""
    stack: list[tuple[int, str]] = []
    out = []
    for line in lines:
        m = _HEADING.match(line)
        if m:
            level = len(m.group(1))
            stack = [(lvl, t) for lvl, t in stack if lvl < level] + [(level, m.group(2))]
        out.append(" > ".join(t for _, t in stack))
    return out


def chunk_document(
    source: str,
    lines: Sequence[str],
    cleaned: Cleaned,
    max_tokens: int,
    count_tokens: Callable[[Sequence[str]], list[int]],
    overlap: int = 1,
) -> list[Chunk]:
    """Chunks covering every kept line of ``lines``, each within ``max_tokens`` model tokens."""
    markdown = source.lower().endswith(MARKDOWN_SUFFIXES)
    headings = heading_paths(lines) if markdown else [""] * len(lines)
    short = {h: fit_context(h, max_tokens // CONTEXT_SHARE, count_tokens) for h in set(headings)}
    headings = [short[h] for h in headings]
    also: dict[int, list[int]] = {}
    for dup, first in cleaned.duplicate_of.items():
        also.setdefault(first, []).append(dup + 1)
    kept = [k for k, keep in enumerate(lines) if cleaned.keep[k]]
    counts = count_tokens([lines[k] for k in kept])
    context_tokens = dict(zip(set(headings), count_tokens(list(set(headings)))))
    paragraphs: list[list[Unit]] = []
    para = -1
    previous = -2
    for k, n in zip(kept, counts):
        starts_para = k != previous + 1 and any(not lines[j].strip() for j in range(previous + 1, k)) or previous < 0
        is_heading = markdown and bool(_HEADING.match(lines[k]))
        if starts_para or is_heading or (paragraphs and headings[k] != paragraphs[-1][-1].heading):
            para += 1
            paragraphs.append([])
        previous = k
        budget = max_tokens - context_tokens.get(headings[k], 0) - _MARGIN
        pieces = split_long_line(lines[k], budget, count_tokens) if n > budget else [(lines[k], n)]
        for text, tokens in pieces:
            paragraphs[-1].append(Unit(k + 1, text, tokens, para, headings[k], tuple(also.get(k, ()))))
    chunks: list[Chunk] = []
    packer: _Packer | None = None
    heading = None
    for paragraph in paragraphs:
        lead = paragraph[0]
        size = sum(u.tokens + 1 for u in paragraph)
        if packer is None or lead.heading != heading and packer.used >= 0.3 * packer.budget:
            if packer is not None:
                packer.close()
                chunks.extend(_to_chunks(source, packer.chunks))
            heading = lead.heading
            budget = max_tokens - context_tokens.get(heading, 0) - _MARGIN
            packer = _Packer(budget, overlap)
        if size <= packer.room():
            for u in paragraph:
                packer.add(u)
        elif size <= packer.budget:
            packer.close()
            for u in paragraph:
                packer.add(u)
        else:
            if packer.used >= 0.5 * packer.budget:
                packer.close()
            packer.add_split(paragraph)
    if packer is not None:
        packer.close()
        chunks.extend(_to_chunks(source, packer.chunks))
    return chunks


def _to_chunks(source: str, groups: list[list[Unit]]) -> list[Chunk]:
    return [Chunk(source, tuple(g), g[0].heading) for g in groups if g]

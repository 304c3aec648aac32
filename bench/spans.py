"""Map a LangChain split back to the lines of its file, so its hits can be scored like citebot's.

``RecursiveCharacterTextSplitter(add_start_index=True)`` records where each split starts in the file; the
split itself is the file text with white space stripped at both ends, so its first and last characters
fix the first and last line it covers. Splits carry no answering line: they are scored by span only.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass


@dataclass(frozen=True)
class LineMap:
    """Character offset to 1-based line number for one file's text."""

    starts: tuple[int, ...]  # offset at which each line begins

    @classmethod
    def of(cls, text: str) -> LineMap:
        starts = [0]
        pos = text.find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = text.find("\n", pos + 1)
        return cls(tuple(starts))

    def line_at(self, offset: int) -> int:
        return bisect_right(self.starts, offset)


def locate(text: str, split: str, start_hint: int | None = None) -> int:
    """Where ``split`` starts in ``text``: the splitter's own index when it checks out, else a search.

    Returns -1 when the split is not a substring of the file (a splitter that rewrote the text).
    """
    if start_hint is not None and start_hint >= 0 and text.startswith(split, start_hint):
        return start_hint
    if start_hint is not None and start_hint > 0:
        found = text.find(split, max(0, start_hint - len(split)))
        if found != -1:
            return found
    return text.find(split)


def line_span(text: str, split: str, start_hint: int | None = None, lines: LineMap | None = None) -> tuple[int, int]:
    """First and last line (1-based, inclusive) that ``split`` covers in ``text``.

    Raises ValueError when the split cannot be found, so a bad mapping is never scored silently.
    """
    start = locate(text, split, start_hint)
    if start < 0:
        raise ValueError(f"split not found in its file: {split[:60]!r}")
    lines = lines or LineMap.of(text)
    end = start + max(len(split), 1) - 1
    return lines.line_at(start), lines.line_at(end)

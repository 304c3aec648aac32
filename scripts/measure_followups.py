"""Measure follow-ups: two-turn conversations over the Textual docs, the second turn answered with and without
the first as context (``citebot.index.followup``).

    .venv/bin/python scripts/measure_followups.py [--docs ../shared/corpus/textual-docs/docs] [--db DIR]
        [--model ""] [--verbose]

Prints, for the elliptical follow-ups, the share whose top source is the right file and the share whose top
passage holds a right line, searched alone ("bare") and with the conversation ("context"); and, for the
self-contained follow-ups, the same shares (context must not make them worse: no pollution). The conversations
are our own, written against the documents' text; gold lines were read off the files.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from citebot.index import Answer, Engine, Settings, configure_process
from citebot.index.followup import Turn, answer_followup, is_elliptical


@dataclass(frozen=True)
class Conversation:
    first: str
    second: str
    source: str  # where the second turn's answer is
    lines: tuple[int, ...]  # the lines that answer it


C = Conversation
# Elliptical second turns: they name (almost) nothing by themselves.
ELLIPTICAL = [
    C("How do I make the devtools console more verbose?", "and less verbose?", "guide/devtools.md", (147, 149, 152)),
    C("How do I run the devtools console on a custom port?", "does the app need it too?", "guide/devtools.md",
      (163, 166)),
    C("How do I cancel a worker?", "what happens to it when its widget is removed?", "guide/workers.md", (106, 107)),
    C("What does exclusive=True do on run_worker?", "can the decorator take it too?", "guide/workers.md", (75, 80)),
    C("What happens by default when a worker raises an exception?", "how do I stop that?", "guide/workers.md",
      (99,)),
    C("How do I disable the command palette?", "and change its key?", "guide/command_palette.md", (163, 170)),
    C("What's the default size of a simulated app in run_test?", "how do I change it?", "guide/testing.md",
      (163, 167)),
    C("What's the default easing method for animate?", "how do I preview the others?", "guide/animation.md",
      (58, 61)),
    C("How do I delay the start of an animation?", "and run something when it finishes?", "guide/animation.md",
      (73,)),
    C("When are watch methods called?", "how do I call it even if the value is the same?", "guide/reactivity.md",
      (203,)),
    C("How do I put a screen on top of the stack?", "and remove it again?", "guide/screens.md", (99, 114)),
    C("How do I run an app in inline mode?", "does that work on Windows?", "guide/app.md", (49,)),
    C("How do I get live editing of CSS while my app runs?", "what about print debugging?", "guide/devtools.md",
      (115, 134)),
    C("What is the worker's return value before it finishes?", "how do I wait for it?", "guide/workers.md", (87,)),
    C("How do I animate the opacity of a widget?", "what about its speed instead of a duration?",
      "guide/animation.md", (43, 44, 45)),
    C("How do I see verbose events in the devtools console?", "and only warnings and errors?", "guide/devtools.md",
      (147, 149, 152)),
    C("What does a reactive attribute with layout=True do?", "and without it?", "guide/reactivity.md", (137,)),
    C("How do I simulate a click in a test?", "with ctrl held down?", "guide/testing.md", (152, 156)),
    C("My test asserts before the message is processed", "how long can it wait?", "guide/testing.md", (178,)),
    C("How do I disable the command palette?", "what was its old key?", "guide/command_palette.md", (165, 170)),
]
# Self-contained second turns: the first turn must not pull them off their own answer.
SELF_CONTAINED = [
    C("How do I cancel a worker?", "What is the default easing method for animate?", "guide/animation.md", (64,)),
    C("How do I disable the command palette?", "What is the default size of a simulated app in tests?",
      "guide/testing.md", (161,)),
    C("What's the default easing method for animate?", "How do I make workers not exit the app on an exception?",
      "guide/workers.md", (99,)),
    C("How do I run an app in inline mode?", "How do I run the devtools console on another port?",
      "guide/devtools.md", (157, 160)),
    C("When are watch methods called?", "How do I change the key binding that opens the command palette?",
      "guide/command_palette.md", (163,)),
]


def right(answer: Answer, conv: Conversation) -> tuple[bool, bool]:
    """(top source is the right file, top passage holds a right line)."""
    if answer.abstained:
        return False, False
    top = answer.hits[0]
    in_file = top.source == conv.source
    return in_file, in_file and any(top.line_start <= n <= top.line_end for n in conv.lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=Path("../shared/corpus/textual-docs/docs"))
    parser.add_argument("--db", type=Path, default=None, help="index directory (default: a temporary one)")
    parser.add_argument("--model", default="", help="embedding model (default: the bundled one)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    configure_process()
    db = args.db or Path(tempfile.mkdtemp(prefix="citebot-followups-"))
    engine = Engine(Settings(db_path=db, docs_dir=args.docs, model=args.model, _env_file=None))
    started = time.perf_counter()
    engine.index()
    print(f"indexed {args.docs} in {time.perf_counter() - started:.1f} s")
    for name, convs in (("elliptical", ELLIPTICAL), ("self-contained", SELF_CONTAINED)):
        tally = {"bare": [0, 0], "context": [0, 0]}
        flagged = 0
        for conv in convs:
            first = engine.ask(conv.first)
            turns = [Turn(conv.first, tuple(h.source for h in first.hits))]
            bare = engine.ask(conv.second)
            result = answer_followup(engine.ask, conv.second, turns)
            flagged += is_elliptical(conv.second)
            for mode, answer in (("bare", bare), ("context", result.answer)):
                file_ok, line_ok = right(answer, conv)
                tally[mode][0] += file_ok
                tally[mode][1] += line_ok
            if args.verbose:
                def where(a: Answer) -> str:
                    return "abstained" if a.abstained else a.hits[0].citation
                print(f"  {conv.second!r}: bare {where(bare)} | context {where(result.answer)}"
                      f" (read with {result.read_with!r}) | gold {conv.source}:{conv.lines}")
        n = len(convs)
        print(f"{name} follow-ups ({n}, {flagged} judged elliptical):")
        for mode, (files, lines) in tally.items():
            print(f"  {mode:8} right file {files}/{n} ({files / n:.0%})  right passage {lines}/{n} ({lines / n:.0%})")


if __name__ == "__main__":
    main()

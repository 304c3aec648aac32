"""``citebot``: index a folder, ask questions and evaluate retrieval without Discord.

Exit codes: 0 success, 1 no answer (``ask``) or an unexpected failure, 2 bad input, 3 Chroma server
unreachable, 4 another re-index holds the lock, 5 nothing indexed yet, 6 the index is damaged (``check``:
problems found, or left after ``--repair``; any other command: run ``citebot check --repair``), 7 another
indexer, possibly on another machine, holds the lease on a server collection (``errors.LeaseHeld``), 130
interrupted.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import json
import logging
import sys
import textwrap
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .engine import Engine
from .errors import CitebotError, IndexDamaged
from .evaluate import caution, load_questions, score, score_by_style
from .feedback import Database, DatabaseSettings, database_path, open_existing, report_json
from .gaps import gaps_csv, gaps_text
from .loader import Skipped, by_reason, group_line
from .runtime import configure_process
from .search import TENTATIVE_NOTE, Answer
from .settings import Settings, get_settings

EXAMPLES = """\
examples:
  citebot index docs/                     index (or re-index) a folder into ./.citebot/chroma
  citebot ask "How do I run the bot?"     best passages, each cited as path:Lstart-Lend
  citebot ask "..." --json -k 3           machine-readable answer
  citebot eval questions.jsonl --hits hits.jsonl
  citebot stats
  citebot check --repair                  verify the index is whole; repair what is not
  citebot gaps --since 30 --csv gaps.csv  what the bot could not answer well, grouped by question
  citebot forget 123456789012345678       delete what the bot stored about one Discord member

Settings come from CITEBOT_* environment variables and .env (see .env.example).
"""


EXIT_NO_ANSWER = 1
EXIT_BAD_INPUT = 2
EXIT_DAMAGED = IndexDamaged.exit_code  # 6: `check` found problems (or --repair left some)
EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT
OUTPUT_ERRORS = "citebot-json-escape"  # the codec error handler for output the terminal cannot encode
SHOWN_LINE_CHARS = 160  # a passage line printed by `ask`: about two lines of a wide terminal
CONTINUES = "⋮"  # the row above or below a passage whose code block goes on past it (search.Hit.partial_blocks)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _settings_problem(exc: ValidationError) -> str:
    """One line naming each bad setting by the variable a user sets."""
    parts = []
    for err in exc.errors():
        name = "CITEBOT_" + "_".join(str(part) for part in err["loc"]).upper()
        parts.append(f"{name}: {err['msg']}")
    return "invalid setting " + "; ".join(parts)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", type=Path, metavar="PATH", help="local Chroma directory (setting CITEBOT_DB_PATH)")
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    common.add_argument("-v", "--verbose", action="store_true", help="log what happens to stderr")
    parser = argparse.ArgumentParser(
        prog="citebot",
        description="Answer questions from a folder of documents, citing file:line for every answer.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("index", parents=[common], help="index a folder (only changed files are re-embedded)",
                       description="Walk DIR, chunk every text document by whole lines, embed what changed and "
                       "commit the new index atomically. Files that disappeared are removed.")
    p.add_argument("dir", nargs="?", type=Path, help="folder to index (default: CITEBOT_DOCS_DIR, 'docs')")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait this long for another running re-index (on a server: any machine's) instead of "
                   "refusing at once")
    p = sub.add_parser("ask", parents=[common], help="answer a question with cited passages",
                       description="Print the best passages for QUESTION, each with its citation and the line "
                       "that answers it marked '>'. Exit code 1 means the documents hold no answer.")
    p.add_argument("question")
    p.add_argument("-k", type=_positive, default=None, help="how many passages (default: CITEBOT_TOP_K, 5)")
    p.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default="hybrid",
                   help="retrieval used (default: hybrid, dense and keyword fused)")
    p = sub.add_parser("eval", parents=[common], help="score retrieval on a JSONL file of questions with gold lines",
                       description="Ask every question of QUESTIONS (JSON Lines with \"question\" and \"gold\": "
                       "[{\"source\", \"line\"}]; an empty gold: the documents do not answer it) and print hit@1, "
                       "hit@5, MRR@10, precise@1 and abstain, as ../shared/eval/score.py scores them; where "
                       "questions carry a \"style\" (lexical, paraphrase, code, unanswerable), the same per style.")
    p.add_argument("questions", type=Path, help='JSON Lines: {"question": ..., "gold": [{"source": "guide.md", '
                   '"line": 12}], "style": "paraphrase"} a line ("style" optional)')
    p.add_argument("--hits", type=Path, metavar="OUT", help="also write one `ask --json` object a line here")
    p.add_argument("-k", type=_positive, default=10, help="passages per question (default 10)")
    p.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default="hybrid",
                   help="retrieval scored (default: hybrid; keyword alone is a BM25 baseline on the same index)")
    sub.add_parser("stats", parents=[common], help="what is indexed: files, chunks, model, last build",
                   description="Show what the index holds. Loads no model.")
    p = sub.add_parser(
        "check", parents=[common], help="verify the index is whole; --repair fixes what it can",
        description="Verify that the manifest reads, that the keyword index of the committed generation loads and "
        "holds exactly the committed chunks, that Chroma opens and that it holds every committed chunk (by id) with "
        "its vector. One line per problem says what is wrong and what --repair (or the next `citebot index`) does. "
        f"Exit codes: 0 healthy (after --repair: all repaired), {EXIT_DAMAGED} problems found (or left after "
        "--repair), 5 nothing indexed yet, 4 another re-index holds the lock (7: its lease on a server), 3 Chroma "
        "server unreachable.",
    )
    p.add_argument("dir", nargs="?", type=Path,
                   help="folder to index again when a repair needs it (default: the folder the manifest names)")
    p.add_argument("--repair", action="store_true",
                   help="rebuild a lost keyword index from the stored chunks, re-embed files whose chunks Chroma "
                   "lost, and index again from scratch after setting aside a manifest that cannot be read")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="with --repair: wait this long for another running re-index instead of refusing at once")
    bot_db = argparse.ArgumentParser(add_help=False)
    bot_db.add_argument("--bot-db", type=Path, metavar="FILE",
                        help="the bot's database (setting CITEBOT_BOT_DB_PATH; default: bot.sqlite3 beside the "
                        "index's state folder, inside --db in embedded mode)")
    p = sub.add_parser(
        "gaps", parents=[common, bot_db],
        help="what the documents miss: questions the bot abstained on, answered unsure or got 👎",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="List the questions the Discord bot could not answer (it abstained), answered unsure (with "
        "the caution that the documents may not answer: CITEBOT_SURE_RELEVANCE), whose answers members "
        "voted 👎, or after which they pressed \"Still need help?\", grouped by similar question, most frequent "
        "first: the report of what the documentation is missing.\n\nQuestion text is stored only when the bot "
        "runs with CITEBOT_BOT_STORE_QUESTIONS=true; otherwise answers are grouped by the files they cited and "
        "unanswered questions are only counted.",
        epilog="examples:\n"
        "  citebot gaps                            every guild, all time\n"
        "  citebot gaps --guild 123456789012345678 --since 30\n"
        "  citebot gaps --json | jq '.groups[0]'\n"
        "  citebot gaps --csv gaps.csv             a spreadsheet, one row a group (and the text on stdout)",
    )
    p.add_argument("--guild", type=_positive, metavar="ID", help="only this Discord server (guild) id")
    p.add_argument("--since", type=_positive, metavar="DAYS", help="only questions of the last DAYS days")
    p.add_argument("--top", type=_positive, metavar="N", help="only the N most frequent groups")
    p.add_argument("--csv", type=Path, metavar="FILE", help="also write the groups to FILE as CSV")
    p = sub.add_parser(
        "forget", parents=[common, bot_db], help="delete what the bot stored about one Discord member",
        description="Delete everything the bot's database holds about a member: the answers to their questions "
        "(with any votes on them) and their own votes and requests for help. Prints what was deleted. Members can "
        "do the same themselves with /forget-me. The index (your documents) is not touched.",
    )
    p.add_argument("user_id", type=_positive, metavar="USER_ID",
                   help="the member's Discord user id (Developer Mode on, then right-click the member: Copy User ID)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = get_settings()
    if args.db is not None:
        settings = settings.model_copy(update={"db_path": args.db})
    return settings


def _progress_bar() -> Any:
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = tqdm(total=total, desc=stage, unit="file" if stage == "chunk" else "chunk",
                               file=sys.stderr, disable=None, leave=False)
        bar = bars[stage]
        bar.total = total
        bar.n = done
        bar.refresh()

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return update, close


def _print_answer(answer: Answer) -> None:
    if answer.abstained:
        print("No answer in the indexed documents.")
        return
    if answer.tentative:
        print(TENTATIVE_NOTE)
        print()
    for i, hit in enumerate(answer.hits, 1):
        print(f"{i}. {hit.citation}  (line {hit.line}, score {hit.score:.2f})")
        # A code block too long to cite whole is shown as the excerpt it is: the rows say it goes on.
        if hit.continues_above:
            print(f"   {CONTINUES:>5}  (the code block begins at line {min(a for a, _ in hit.partial_blocks)})")
        for number, text in hit.lines:
            mark = ">" if number == hit.line else " "
            print(f"  {mark}{number:>5}  " + _shown_line(text))
        if hit.continues_below:
            print(f"   {CONTINUES:>5}  (the code block goes on to line {max(b for _, b in hit.partial_blocks)})")
        print()


def _shown_line(text: str, limit: int = SHOWN_LINE_CHARS) -> str:
    """A passage line for the terminal: its indentation kept (code reads by it), cut with an ellipsis when long."""
    text = text.rstrip()
    if len(text) <= limit:
        return text
    body = text.lstrip()
    indent = text[: len(text) - len(body)][: limit // 2]
    return indent + textwrap.shorten(body, max(limit - len(indent), 20), placeholder=" …")


# Files left out for one reason are listed one a line up to this many; more are one line with a count and the
# first few (a built site leaves out a copy of every page's source: hundreds of lines would say one thing).
SKIPPED_LISTED = 5


def skipped_lines(skipped: list[Skipped]) -> list[str]:
    """What ``citebot index`` says of the files it left out: one line each, or one line a reason when many."""
    lines = []
    for reason, sources in by_reason(skipped):
        if len(sources) <= SKIPPED_LISTED:
            lines += [f"skipped {source}: {reason}" for source in sources]
        else:
            lines.append(f"skipped {group_line(reason, sources)}")
    return lines


def _index(engine: Engine, args: argparse.Namespace) -> int:
    update, close = _progress_bar()
    try:
        report = engine.index(args.dir, progress=update, wait=args.wait)
    finally:
        close()
    if args.json:
        print(json.dumps(report.to_json()))
        return 0
    for line in skipped_lines(report.skipped):
        print(line, file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for repair in report.repaired:
        print(f"repaired: {repair}", file=sys.stderr)
    print(report.summary())
    return 0


def _ask(engine: Engine, args: argparse.Namespace) -> int:
    answer = engine.ask(args.question, args.k, args.mode)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        _print_answer(answer)
    return EXIT_NO_ANSWER if answer.abstained else 0


def _eval(engine: Engine, args: argparse.Namespace) -> int:
    questions = load_questions(args.questions)
    hits: dict[str, list[Mapping[str, Any]]] = {}
    tentative: dict[str, bool] = {}
    latencies = []
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(args.hits.open("w", encoding="utf-8")) if args.hits else None
        from tqdm import tqdm

        # On a terminal only (disable=None): a thousand questions take a minute or more.
        for q in tqdm(questions, desc="ask", unit="question", file=sys.stderr, disable=None, leave=False):
            started = time.perf_counter()
            answer = engine.ask(q["question"], args.k, args.mode)
            latencies.append(time.perf_counter() - started)
            record = answer.to_json()
            hits[q["question"]] = record["hits"]  # type: ignore[assignment]
            tentative[q["question"]] = answer.tentative
            if out:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    result = {**score(questions, hits), **caution(questions, tentative)}
    latencies.sort()
    result["query_ms_p50"] = round(1000 * latencies[len(latencies) // 2], 1) if latencies else None
    per_style = score_by_style(questions, hits)
    if args.json:
        print(json.dumps({**result, **({"by_style": per_style} if per_style else {})}))
        return 0
    _print_mapping(result, False)
    if per_style:
        print()
        print(_style_table(per_style))
    return 0


STYLE_COLUMNS = ("hit@1", "hit@5", "precise@1", "abstain")


def _style_table(per_style: Mapping[str, Mapping[str, Any]]) -> str:
    """The score of each style of question, a row each: blank where a style has no such question."""
    width = max(len("style"), *(len(s) for s in per_style))
    rows = [f"{'style':<{width}}  {'n':>4}  " + "  ".join(f"{c:>9}" for c in STYLE_COLUMNS)]
    for style, m in per_style.items():
        n = (m.get("answerable") or 0) + (m.get("unanswerable") or 0)
        cells = [f"{m[c]:>9.3f}" if m.get(c) is not None else " " * 9 for c in STYLE_COLUMNS]
        rows.append(f"{style:<{width}}  {n:>4}  " + "  ".join(cells))
    return "\n".join(row.rstrip() for row in rows)


def _stats(engine: Engine, args: argparse.Namespace) -> int:
    _print_mapping(engine.stats().to_json(), args.json)
    return 0


def _check(engine: Engine, args: argparse.Namespace) -> int:
    report = engine.check(args.repair, args.dir, args.wait)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        for done in report.repaired:
            print(f"repaired: {done}")
        for problem in report.problems:
            print(f"problem: {problem.line()}")
        print(report.verdict())
    return 0 if report.healthy else EXIT_DAMAGED


COMMANDS: dict[str, Callable[[Engine, argparse.Namespace], int]] = {
    "index": _index, "ask": _ask, "eval": _eval, "stats": _stats, "check": _check,
}


def _database(args: argparse.Namespace) -> tuple[Database | None, Path]:
    path = database_path(args.bot_db or DatabaseSettings().db_path, _settings(args))
    return open_existing(path), path


def _gaps(args: argparse.Namespace) -> int:
    database, _ = _database(args)
    since = time.time() - args.since * 86400 if args.since else None
    groups = database.gaps(args.guild, since, _settings(args).sure_relevance) if database else []
    groups = groups[: args.top] if args.top else groups
    if args.csv:
        args.csv.write_text(gaps_csv(groups), encoding="utf-8")
    report = report_json(groups)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(gaps_text(groups, bool(report["questions_stored"])))
    return 0


def _forget(args: argparse.Namespace) -> int:
    database, _ = _database(args)
    forgotten = database.forget_user(args.user_id) if database else None
    if args.json:
        print(json.dumps({"user_id": args.user_id, "answers": forgotten.answers if forgotten else 0,
                          "votes": forgotten.votes if forgotten else 0}))
    else:
        print(f"user {args.user_id}: " + (forgotten.summary() if forgotten else "nothing stored (no bot database yet)"))
    return 0


# Commands of the bot's database: they need no Engine (no model, no Chroma).
DATABASE_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"gaps": _gaps, "forget": _forget}


def run(args: argparse.Namespace) -> int:
    """Run one parsed command; its return value is the exit code."""
    if args.command in DATABASE_COMMANDS:
        return DATABASE_COMMANDS[args.command](args)
    return COMMANDS[args.command](Engine(_settings(args)), args)


def _print_mapping(data: dict[str, Any], as_json: bool) -> None:
    """One JSON object, or aligned ``key: value`` lines for people."""
    if as_json:
        print(json.dumps(data))
        return
    width = max((len(key) for key in data), default=0)
    for key, value in data.items():
        print(f"{key:>{width}}: {value}")


def _json_escape(exc: UnicodeError) -> tuple[str, int]:
    r"""Write a character the output cannot encode as ``\uXXXX`` (a surrogate pair beyond U+FFFF).

    Unlike Python's ``backslashreplace`` (``\xe9``, ``\U0001f600``), these are JSON's own escapes, so ``--json``
    output stays valid JSON on an ASCII terminal, and text output shows which character stood there.
    """
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    escaped = exc.object[exc.start : exc.end].encode("utf-16-be", "surrogatepass")
    units = (int.from_bytes(escaped[i : i + 2], "big") for i in range(0, len(escaped), 2))
    return "".join(f"\\u{unit:04x}" for unit in units), exc.end


def _tolerant_output() -> None:
    """A terminal or pipe whose encoding lacks the documents' characters (``PYTHONIOENCODING=ascii``, a Latin-1
    locale) gets them escaped instead of a UnicodeEncodeError traceback halfway through an answer. Only
    streams left "strict" change: an error handler the user chose is kept."""
    codecs.register_error(OUTPUT_ERRORS, _json_escape)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) == "strict":
            reconfigure(errors=OUTPUT_ERRORS)


def main(argv: list[str] | None = None) -> int:
    configure_process()
    _tolerant_output()
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except CitebotError as exc:
        print(f"citebot: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValidationError as exc:
        print(f"citebot: {_settings_problem(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # output piped into `head` and the like (before OSError: it is one)
        sys.stderr.close()
        return 0
    except OSError as exc:  # a path that is not a folder, a full disk: say which, without a traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"citebot: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("citebot: interrupted; the last committed index is intact", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench``: every system on the same corpora and questions in one process, then the store scale.

Writes ``docs/benchmarks.md``, ``docs/benchmarks.json`` and ``docs/benchmarks.png`` (beside ``--out``)
after each phase, so an interrupted run still leaves what it measured.
"""

from __future__ import annotations

import argparse
import gc
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from citebot.index import CitebotError, make_embedder
from citebot.index.embedder import bundled_model_path

from . import bm25_run, citebot_run, data, encode_only, langchain_run, machine, plot, report, scale, scoring
from .measure import max_rss_mib, say
from .results import Run, SystemResult

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SCALE = "10000,100000,1000000"
QUICK_SCALE = "2000,10000"
DEFAULT_BUDGET_MIN = 20
# --quick on a docs corpus: its most-cited files (enough to hold every style of question) and up to this
# many questions about them, so the smoke run indexes a few hundred chunks instead of thousands.
QUICK_DOCS_FILES, QUICK_DOCS_QUESTIONS = 3, 30
NOT_RETRIEVAL = {"docs_dir", "db_path", "chroma_host", "chroma_port", "chroma_ssl", "state_dir", "collection",
                 "extensions", "exclude", "follow_symlinks", "max_file_bytes", "device"}


class BenchError(Exception):
    """A user mistake or a missing prerequisite: one line, no traceback."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark citebot (hybrid, dense-only, BM25-only) against LangChain's default pipeline and "
        "plain BM25 on the shared SQuAD, news and documentation corpora (pydantic, discord.py, Textual), then "
        "measure how the store scales. Progress goes to stderr.",
    )
    p.add_argument("--squad-sample", type=int, default=1000, metavar="N",
                   help="SQuAD questions to ask, drawn with a fixed seed (default 1000; 0 = all 4,961)")
    p.add_argument("--quick", action="store_true",
                   help="fast smoke run: 3 SQuAD files and 60 questions, the 3 most-cited files of each docs "
                   "corpus and their questions, small scale sizes, output under .bench/")
    p.add_argument("--skip-langchain", action="store_true",
                   help="leave out LangChain's pipeline (plain BM25 still runs when its splitter is installed)")
    p.add_argument("--scale", default=None, metavar="SIZES",
                   help=f"synthetic store sizes, comma-separated (default {DEFAULT_SCALE}; 'none' to skip)")
    p.add_argument("--scale-budget", type=float, default=None, metavar="MIN",
                   help=f"minutes of store inserting allowed before larger sizes are extrapolated "
                   f"(default {DEFAULT_BUDGET_MIN}; 1M chunks take about 45 min on 2 busy cores)")
    p.add_argument("--corpus", default=",".join(data.CORPORA),
                   help=f"corpora to run, comma-separated (default all: {','.join(data.CORPORA)})")
    p.add_argument("--k", type=int, default=10, help="hits asked per question for MRR@10 rows (default 10)")
    p.add_argument("--out", type=Path, default=None,
                   help="Markdown report (default docs/benchmarks.md; .json and .png are written beside it)")
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared",
                   help="the shared data folder (default ../shared relative to the repository)")
    p.add_argument("--repeat", type=int, default=None, metavar="N",
                   help="from-scratch index builds (and encode-only runs) per system; the fastest counts (default 2, "
                   "--quick 1)")
    p.add_argument("--latency-passes", type=int, default=None, metavar="N",
                   help="times every question is timed per system; p50/p95 come from the first, 'best of N' "
                   "from each question's fastest (default 2, --quick 1)")
    p.add_argument("--from-json", type=Path, default=None, metavar="PATH",
                   help="measure nothing: re-render the report and plot from a saved benchmarks.json")
    p.add_argument("--keep", action="store_true", help="keep the run's indexes under .bench/ (hits are always kept)")
    return p.parse_args(argv)


def parse_sizes(text: str) -> list[int]:
    """``10000,100k,1M`` -> sizes rounded up to whole blocks of 1,000; ``none`` or empty -> no scale section."""
    if text.strip().lower() in {"", "none", "0", "off"}:
        return []
    sizes = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        mult = 1_000_000 if part.endswith("m") else 1_000 if part.endswith("k") else 1
        try:
            value = int(float(part.rstrip("mk")) * mult)
        except ValueError:
            raise BenchError(f"--scale: {part!r} is not a number of chunks") from None
        if value <= 0:
            raise BenchError(f"--scale: sizes must be positive, got {part!r}")
        sizes.append(-(-value // 1000) * 1000)
    return sorted(set(sizes))


def validate(args: argparse.Namespace) -> list[str]:
    """Refuse bad options and missing data before anything is created; the corpora to run."""
    wanted = [c.strip() for c in args.corpus.split(",") if c.strip()]
    choices = ", ".join(data.CORPORA)
    if not wanted:
        raise BenchError(f"--corpus: name at least one corpus ({choices})")
    unknown = set(wanted) - set(data.CORPORA)
    if unknown:
        raise BenchError(f"--corpus: unknown corpus {sorted(unknown)[0]!r} (choose from {choices})")
    wanted = list(dict.fromkeys(wanted))
    needed = data.question_files(args.shared)
    for name in wanted:
        if not needed[name].exists():
            raise BenchError(f"missing {needed[name]}: pass --shared PATH to the shared data folder")
    if args.repeat is not None and args.repeat < 1:
        raise BenchError("--repeat must be at least 1")
    if args.latency_passes is not None and args.latency_passes < 1:
        raise BenchError("--latency-passes must be at least 1")
    if args.squad_sample < 0:
        raise BenchError("--squad-sample must be 0 (all) or a positive number")
    if args.k < 1:
        raise BenchError("--k must be at least 1")
    if not args.skip_langchain:
        try:
            import langchain_chroma  # noqa: F401
            import langchain_huggingface  # noqa: F401
            import langchain_text_splitters  # noqa: F401
        except ImportError as exc:
            raise langchain_run.MissingExtra(
                f"LangChain is not installed ({exc.name}): run `make bench`, or "
                "`.venv/bin/pip install -c constraints.txt -e '.[bench]'`, or pass --skip-langchain"
            ) from None
    return wanted


def _datasets(args: argparse.Namespace, wanted: list[str], workdir: Path) -> list[data.Dataset]:
    out = []
    for name in wanted:
        if name == "squad":
            squad = data.squad(args.shared, 0 if args.quick else args.squad_sample)
            out.append(data.shrink(squad, 3, 60, workdir) if args.quick else squad)
        elif name == "news":
            out.append(data.news(args.shared))
        else:
            docs = data.docs(args.shared, name)
            out.append(data.shrink(docs, QUICK_DOCS_FILES, QUICK_DOCS_QUESTIONS, workdir, pick="cited")
                       if args.quick else docs)
    return out


def _command(argv: list[str]) -> str:
    """The command that reproduces the numbers (``--keep`` changes none of them, so it is left out)."""
    shown = [a for a in argv if a != "--keep"]
    return "make bench" if not shown else ".venv/bin/python -m bench " + shlex.join(shown)


class Writer:
    """Writes the report after every phase; the plot only once there is something to plot."""

    def __init__(self, run: Run, out: Path) -> None:
        self.run, self.out = run, out
        self.plot_path = out.with_suffix(".png")

    def __call__(self, with_plot: bool = False) -> None:
        if with_plot:
            plot.draw(self.run.systems, self.plot_path)
        report.write(self.run, self.out, self.plot_path)


def _record(run: Run, folder: Path, shared: Path, ds: data.Dataset, result: SystemResult,
            hits: scoring.Hits, timings: scoring.Timings | None = None) -> None:
    result.by_style = scoring.by_style(ds.questions, hits)
    gold, found = scoring.save(folder, f"{ds.name}-{result.key}", ds.questions, hits, timings)
    result.score_py_agrees = scoring.agrees(result.metrics, scoring.reference_score(shared / "eval" / "score.py",
                                                                                  gold, found))
    if result.score_py_agrees is False:
        say(f"{ds.name} {result.key}: index.evaluate.score disagrees with shared/eval/score.py")
    run.systems.append(result)


def main(argv: list[str] | None = None) -> int:
    from citebot.index import configure_process

    configure_process()
    raw = sys.argv[1:] if argv is None else argv
    args = parse_args(raw)
    try:
        if args.from_json is not None:
            rerender(args.from_json, args.out or REPO / "docs" / "benchmarks.md")
        else:
            execute(args, _command(raw))
    except (BenchError, CitebotError, langchain_run.MissingExtra) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; the report holds what was measured so far", file=sys.stderr)
        return 130
    return 0


def rerender(source: Path, out: Path) -> None:
    """Rebuild the Markdown and the plot from a run's JSON (after a change to the report's layout)."""
    import json

    try:
        run = Run.from_json(json.loads(source.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise BenchError(f"no such file: {source}") from None
    except (json.JSONDecodeError, TypeError) as exc:
        raise BenchError(f"{source}: not a benchmarks.json written by this suite ({exc})") from None
    Writer(run, out)(with_plot=True)
    say(f"re-rendered {out} from {source}")


def execute(args: argparse.Namespace, command: str) -> None:
    started = time.perf_counter()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    wanted = validate(args)
    sizes = parse_sizes(args.scale if args.scale is not None else (QUICK_SCALE if args.quick else DEFAULT_SCALE))
    budget = 60 * (args.scale_budget if args.scale_budget is not None else (3 if args.quick else DEFAULT_BUDGET_MIN))
    out = args.out or (REPO / (".bench/quick/benchmarks.md" if args.quick else "docs/benchmarks.md"))
    workdir = REPO / ".bench" / f"run-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    datasets = _datasets(args, wanted, workdir)

    settings = citebot_run.bench_settings(workdir / "unused", REPO)
    tuned = {k: v for k, v in settings.model_dump().items() if k not in NOT_RETRIEVAL}
    run = Run(command=command, started=time.strftime("%Y-%m-%d %H:%M:%S %Z"), machine=machine.describe(REPO),
              settings={k: str(v) for k, v in tuned.items()}, quick=args.quick)
    run.datasets = {d.name: f"{d.note}; {len(data.corpus_files(d.corpus))} files; "
                            f"{d.answerable} answerable, {len(d.questions) - d.answerable} unanswerable"
                    for d in datasets}
    write = Writer(run, out)
    run.machine["load_by_phase"] = {}

    def phase(name: str) -> None:
        load = machine.load_average()
        run.machine["load_by_phase"][name] = load[0] if load else None
    say(f"workdir {workdir}; report {out}")
    hits_dir = workdir / "hits"
    model_path = settings.model or bundled_model_path()

    # The bare model, for the indexing-overhead target: it encodes the same texts right after each build.
    # citebot's floor is the same model on the runtime citebot runs it with (encode_only's docstring).
    encode: Any = None
    citebot_encode: Any = None
    if settings.model.startswith("hash"):
        run.notes.append("encode-only not measured: CITEBOT_MODEL selects the hash test embedder")
    else:
        say("encode-only: loading the bare model")
        encode = encode_only.Baseline(encode_only.load_model(model_path, settings.device), settings.batch_size)
        citebot_encode = encode_only.citebot_floor(model_path, settings.device, settings.batch_size, settings.onnx,
                                                   encode)
        runtime = getattr(citebot_encode, "runtime", "torch")
        run.notes.append(f"citebot runs the model on {runtime} (CITEBOT_ONNX): its encode-only floor is the same "
                         "model on that runtime; LangChain's is the model on torch")

    repeat = args.repeat or (1 if args.quick else 2)
    latency_passes = args.latency_passes or (1 if args.quick else 2)

    # 1. citebot, one shared index per corpus, every mode.
    embedder = make_embedder(settings.model, settings.device, settings.batch_size, settings.onnx,
                             settings.onnx_cache())
    for ds in datasets:
        phase(f"citebot {ds.name}")
        cb = citebot_run.run(ds, embedder, workdir, args.k, citebot_encode, repeat, latency_passes)
        for result in cb.results:
            _record(run, hits_dir, args.shared, ds, result, cb.hits[result.key], cb.timings[result.key])
        write()
    del embedder
    gc.collect()

    # 2. Plain BM25 over LangChain's splits: no model, so it runs whether or not LangChain's pipeline does.
    missing = bm25_run.available()
    if missing:
        run.notes.append(missing)
    else:
        for ds in datasets:
            phase(f"plain BM25 {ds.name}")
            bm = bm25_run.run(ds, args.k, repeat, latency_passes)
            _record(run, hits_dir, args.shared, ds, bm.result, bm.hits, bm.timings)
        write()

    # 3. LangChain's default pipeline on the same files and questions.
    if not args.skip_langchain:
        emb: Any = langchain_run.embeddings(model_path)
        for ds in datasets:
            phase(f"LangChain {ds.name}")
            lc = langchain_run.run(ds, emb, workdir, args.k, encode, repeat, latency_passes)
            _record(run, hits_dir, args.shared, ds, lc.result, lc.hits, lc.timings)
            write()
        del emb
        gc.collect()
    encode = None
    gc.collect()
    write(with_plot=True)

    # 4. How the store behaves as it grows.
    if sizes:
        def on_point(points: list[Any]) -> None:
            run.scale = list(points)
            write(with_plot=True)

        phase("store scale")
        run.scale, run.scale_note = scale.run(sizes, workdir, budget, settings.candidates + 10, settings.candidates,
                                              on_point)

    run.seconds = time.perf_counter() - started
    run.machine["load_average_end"] = machine.load_average()
    run.process_max_rss_mib = max_rss_mib()
    write(with_plot=True)
    if not args.keep:
        for sub in ("citebot", "langchain", "scale"):
            shutil.rmtree(workdir / sub, ignore_errors=True)
    say(f"done in {run.seconds / 60:.1f} min: {out} (hits per question under {hits_dir})")

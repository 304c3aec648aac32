"""Measure what indexing costs besides the model (issue 10: "indexing overhead over encode-only stays <= 15%").

    python scripts/measure_index_overhead.py ../shared/corpus/pydantic-docs/docs [--bare] [--profile out.prof]
        [--ids ids.json] [--vectors vectors.pkl] [--replays 3]

One process, one run, so that every number is a ratio of times taken side by side on the same (noisy) machine:

1. a from-scratch build with the bundled model, its vectors recorded (``bench.citebot_run.RecordingEmbedder``):
   "encode s" is the time spent inside the model's ``embed_passages``, "build s" the whole build;
2. the same build into a fresh database with the recorded vectors handed back at no cost (``ReplayEmbedder``):
   "non-model s" is everything the indexer does except the model (structure, cleaning, chunking, token counting,
   hashing, Chroma upserts, the keyword index, the manifest). The fastest of ``--replays`` counts;
3. with ``--bare``, the bare model encoding the same texts on the runtime citebot uses (``bench.encode_only``), the
   floor ``make bench`` compares the whole build with.

Printed (JSON): overhead = non-model s / encode s, what the pipeline adds to the model's own time; build_overhead
= build s / encode s - 1, the same read off the model build itself (noisier: it is one build, not the fastest of
several); with ``--bare`` also the bench's definition, bench_overhead = build s / bare encode s - 1, which also
counts what citebot's embedder does besides the bare model (offsets, line pooling).

``--profile FILE`` writes a cProfile of one more replayed build (read it with ``python -m pstats FILE``).
``--ids FILE`` writes the committed manifest's chunk ids per file, to check that a change keeps what is
indexed identical (compare two such files). ``--vectors FILE`` keeps the recorded vectors in FILE and, when it
exists, replays them without running the model (for profiling while changing the pipeline; no overhead ratio
then, and a changed chunk text stops the replay with a KeyError: which is itself a check).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pickle
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.citebot_run import RecordingEmbedder, ReplayEmbedder, bench_settings  # noqa: E402
from citebot.index import Embedder, Engine, IndexReport, ledger, make_embedder  # noqa: E402


@dataclass(frozen=True)
class Timed:
    wall: float
    cpu: float
    report: IndexReport


def timed_build(db: Path, folder: Path, embedder: Embedder) -> Timed:
    wall, cpu = time.perf_counter(), time.process_time()
    report = Engine(bench_settings(db, folder), embedder).index(folder)
    return Timed(time.perf_counter() - wall, time.process_time() - cpu, report)


def chunk_ids(db: Path, folder: Path) -> dict[str, list[str]]:
    """The committed manifest's chunk ids, per file."""
    manifest = ledger.open_ledger(bench_settings(db, folder)).load()
    return {} if manifest is None else {s: e.chunks for s, e in sorted(manifest.files.items())}


def _load_recorded(path: Path, inner: Embedder) -> RecordingEmbedder:
    recorder = RecordingEmbedder(inner)
    with path.open("rb") as fh:
        recorder.vectors = pickle.load(fh)  # a file this script wrote: a local cache, never shared input
    return recorder


def _warm(embedder: Embedder) -> None:
    """Load the model and pay its lazy first-call costs before anything is timed."""
    embedder.count_tokens(["warm up"])
    embedder.embed_passages(["warm up"], [[(0, 7)]])


def _fastest(runs: int, build: Callable[[Path], Timed], tmp: Path, name: str) -> Timed:
    return min((build(tmp / f"{name}-{i}") for i in range(runs)), key=lambda t: t.wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--bare", action="store_true", help="also time the bare model on the same texts")
    parser.add_argument("--replays", type=int, default=3, help="replayed builds; the fastest counts (default 3)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of one replayed build here")
    parser.add_argument("--ids", type=Path, help="write the manifest's chunk ids per file here (JSON)")
    parser.add_argument("--vectors", type=Path,
                        help="recorded vectors: written after a model build, replayed if present")
    args = parser.parse_args()
    if not args.folder.is_dir():
        parser.error(f"not a folder: {args.folder}")

    settings = bench_settings(Path("unused"), args.folder)
    embedder = make_embedder(settings.model, settings.device, settings.batch_size, settings.onnx,
                             settings.onnx_cache())
    _warm(embedder)
    row: dict[str, object] = {"folder": str(args.folder)}
    with tempfile.TemporaryDirectory(prefix="citebot-overhead-") as name:
        tmp = Path(name)
        if args.vectors and args.vectors.exists():
            recorder = _load_recorded(args.vectors, embedder)
            first = tmp / "replay-0"
        else:
            recorder = RecordingEmbedder(embedder)
            built = timed_build(tmp / "model", args.folder, recorder)
            first = tmp / "model"
            row.update(chunks=built.report.chunks, build_s=round(built.wall, 2), build_cpu_s=round(built.cpu, 2),
                       encode_s=round(recorder.seconds, 2), build_overhead=round(built.wall / recorder.seconds - 1, 3))
            if args.vectors:
                with args.vectors.open("wb") as fh:
                    pickle.dump(recorder.vectors, fh)
        replay = ReplayEmbedder(recorder)
        fastest = _fastest(max(1, args.replays), lambda db: timed_build(db, args.folder, replay), tmp, "replay")
        row.update(chunks=fastest.report.chunks, non_model_s=round(fastest.wall, 2),
                   non_model_cpu_s=round(fastest.cpu, 2))
        if "encode_s" in row:
            row["overhead"] = round(fastest.wall / recorder.seconds, 3)
        if args.bare and recorder.texts:
            from bench import encode_only
            from citebot.index.embedder import bundled_model_path

            floor = encode_only.citebot_floor(bundled_model_path(), settings.device, settings.batch_size,
                                              settings.onnx)
            bare = min((floor(recorder.texts) for _ in range(2)), key=lambda t: t.wall)
            row.update(bare_encode_s=round(bare.wall, 2),
                       bench_overhead=round(float(row["build_s"]) / bare.wall - 1, 3))
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(timed_build, tmp / "profiled", args.folder, replay)
            profiler.dump_stats(str(args.profile))
        if args.ids:
            args.ids.write_text(json.dumps(chunk_ids(first, args.folder), indent=1))
    print(json.dumps(row))


if __name__ == "__main__":
    main()

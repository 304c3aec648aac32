"""Measure what a server-mode replica pays for its own keyword index (issue 13), at given sizes.

    python scripts/measure_keyword_rebuild.py 10000 100000 1000000 [--json results.json]

Each size runs in child processes of its own (so that peak memory is the path's own), on synthetic chunks
(``bench.synthetic``: Zipf-distributed generated words, 5 lines of 12 words, about 60 terms a chunk; real
256-token chunks hold about twice as many). Three paths of ``citebot.index.keyword_cache.for_commit``:

- commit: the replica holds the cached keyword index of generation 1; generation 2 replaces 1% of the chunks.
  It reads the cached terms, reads the new chunks from the store (here an in-memory stand-in: no server, so
  the time is citebot's own), builds BM25 over every chunk and caches the result. This is the background
  rebuild after each commit, while the previous generation answers;
- restart: a new process with the cache in place loads and checks it;
- cold: a process with an empty folder builds and caches generation 1, less the time to read every chunk from
  the server (measured apart: it depends on the server and the network, not on citebot).

The cold build runs in one child process, the restart and the commit in a second (a restarted replica taking a
commit), so each peak RSS is that path's own. Printed: seconds, RSS (MiB) before, after and at the peak.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHANGED = 0.01  # share of chunks a commit replaces: an edit of a few files in a large document set
FRESH_BLOCKS = 100_000  # synthetic block number the new chunks' texts start at (100M chunks: past any size here)


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Chunks:
    """A stand-in for ``Store.get``: synthetic chunks by id, made on request."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts
        self.where = "memory"
        self.asked = 0

    def get(self, ids: list[str], embeddings: bool = False) -> list[Any]:
        from citebot.index.store import StoredChunk

        self.asked += len(ids)
        return [StoredChunk(cid, "synthetic.txt", 1, 5, self.texts[cid], [], "", "")
                for cid in ids if cid in self.texts]


def _ids(size: int) -> tuple[list[str], list[str]]:
    """The committed ids of generation 1, and the ids generation 2 adds in place of its first 1%."""
    changed = max(1, int(size * CHANGED))
    return [f"c{i:08d}" for i in range(size)], [f"n{i:08d}" for i in range(changed)]


def prepare(size: int, folder: Path) -> dict[str, Any]:
    """Generation 1 built and cached, as a replica with an empty folder does once it read every chunk."""
    from bench import synthetic
    from citebot.index import state
    from citebot.index.keyword import KeywordIndex

    ids, _ = _ids(size)
    terms: list[list[str]] = []
    for block in range((size + synthetic.BLOCK - 1) // synthetic.BLOCK):
        terms.extend(synthetic.term_lists(synthetic.word_ids(block)))
    terms = terms[:size]
    base = _rss_mib()
    started = time.perf_counter()
    KeywordIndex.build_from_terms(ids, terms).write(state.keyword_dir(folder, 1), terms)
    return {"cold_build_s": round(time.perf_counter() - started, 2), "cold_rss_before_mib": round(base),
            "cold_peak_rss_mib": round(_peak_mib())}


def commit(size: int, folder: Path) -> dict[str, Any]:
    """A fresh process (a replica after a restart) loads generation 1, then takes generation 2's commit."""
    from bench import synthetic
    from citebot.index import check, keyword_cache, state

    ids, new_ids = _ids(size)
    fresh: list[str] = []
    block = FRESH_BLOCKS
    while len(fresh) < len(new_ids):  # blocks no size here reaches: new text
        fresh.extend(synthetic.texts(synthetic.word_ids(block)))
        block += 1
    first = state.Manifest(generation=1, files={"all": state.FileEntry("", ids)})
    base = _rss_mib()
    started = time.perf_counter()
    check.load_keyword(folder, first)
    restart_s = time.perf_counter() - started
    loaded = _rss_mib()
    second = state.Manifest(generation=2, files={"all": state.FileEntry("", ids[len(new_ids):] + new_ids)})
    store = _Chunks(dict(zip(new_ids, fresh, strict=False)))
    started = time.perf_counter()
    index = keyword_cache.for_commit(folder, second, store)  # type: ignore[arg-type]
    commit_s = time.perf_counter() - started
    assert len(index.ids) == size and store.asked == len(new_ids)
    disk = sum(p.stat().st_size for p in state.keyword_dir(folder, 2).rglob("*") if p.is_file())
    return {"restart_load_s": round(restart_s, 2), "commit_rebuild_s": round(commit_s, 2),
            "rss_before_mib": round(base), "rss_loaded_mib": round(loaded), "rss_after_commit_mib": round(_rss_mib()),
            "commit_peak_rss_mib": round(_peak_mib()), "cache_mib": round(disk / 2**20)}


def _child(size: int, phase: str, folder: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", str(size), "--phase", phase, "--folder", str(folder)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{size:,} {phase}: failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=["prepare", "commit"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        run = prepare if args.phase == "prepare" else commit
        print(json.dumps(run(args.child, args.folder)))
        return
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                row = {"chunks": size, **_child(size, "prepare", Path(tmp)), **_child(size, "commit", Path(tmp))}
            except RuntimeError as exc:
                print(exc, file=sys.stderr)
                continue
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

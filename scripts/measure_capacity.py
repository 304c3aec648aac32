"""How many servers and questions one bot process holds (docs/bot.md, "Sharding and capacity").

Measures, in this process:
1. memory per stored server configuration (``Guilds``, 4 settings changed) and the cost of ``Guilds.get``;
2. memory per extra open document set (``Engines``): four sets of 64 files each, indexed, then opened afresh
   (as after a restart) and asked one question each, resident memory read after each;
3. questions per second from one engine with 4 worker threads (the bot's default ``ask_concurrency``).

    .venv/bin/python scripts/measure_capacity.py [--model hash] [--dir /tmp/citebot-capacity]

The default model is the bundled all-MiniLM-L6-v2 (what a deployment runs); ``hash`` measures the plumbing only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from citebot.bot.engines import Engines
from citebot.bot.guilds import Guilds
from citebot.bot.settings import BotSettings
from citebot.index import Engine, Settings, configure_process

GUILDS = 10_000
SETS = 4
PAGES = 60  # files per set besides the four of the bot tests' corpus: 124 chunks a set with the bundled model
QUESTIONS = [
    "How long is green tea steeped?", "When should roses be pruned?", "Where does the deploy script live?",
    "Oolong: how many degrees and minutes?", "What is the airspeed velocity of an unladen swallow?",
]
CORPUS = {
    "tea.md": "# Brewing tea\n\nGreen tea is steeped at 80 degrees Celsius for two minutes.\n"
              "Black tea wants boiling water and four minutes of steeping.\n",
    "garden/roses.md": "# Roses\n\nPrune roses in late winter, just before the buds swell.\n",
    "ops/deploy.txt": "Deployments\n\nThe deploy script lives in scripts/deploy.sh and reads the release tag.\n",
    "kitchen/notice.md": "# Kitchen notice\n\nDescale the office kettle on Fridays.\n",
}


def rss_mib() -> float:
    """Resident memory of this process (Linux)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure_guilds() -> None:
    guilds = Guilds(BotSettings(_env_file=None), None)

    async def fill() -> None:
        for n in range(GUILDS):
            g = 10**17 + n
            await guilds.update(g, collection="handbook", ask_channel_ids=[g, g + 1], admin_roles=[str(g)],
                                admin_channel_id=g)

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    asyncio.run(fill())
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    started = time.perf_counter()
    for n in range(GUILDS):
        guilds.get(10**17 + n)
    per_get = (time.perf_counter() - started) / GUILDS
    print(f"server settings: {(after - before) / GUILDS:.0f} bytes each ({GUILDS:,} servers, 4 settings changed); "
          f"Guilds.get {per_get * 1e6:.1f} µs")


def write_set(folder: Path, n: int) -> Path:
    files = dict(CORPUS)
    files.update({f"pages/{j}.md": f"# Page {j}\n\n" + "\n".join(f"Line {k} of page {j} in set {n}." for k in range(40))
                  for j in range(PAGES)})
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def measure_engines(model: str, root: Path) -> Engine:
    folders = {n: write_set(root / f"docs{n}", n) for n in range(SETS)}
    default = Engine(Settings(db_path=root / "chroma", docs_dir=folders[0], model=model, _env_file=None))
    default.index()
    default.ask(QUESTIONS[0])  # a question that is answered: loads the line reader too
    sets = {f"s{n}": folders[n] for n in range(1, SETS)}
    builder = Engines(default, sets, limit=SETS)
    for name in sets:
        builder.get(name).index()
    del builder
    gc.collect()
    print(f"resident memory, default set open and warm: {rss_mib():.0f} MiB "
          f"({default.stats().files} files, {default.stats().chunks} chunks a set)")
    engines = Engines(default, sets, limit=SETS)  # opened afresh, as after a restart
    start = rss_mib()
    for name in sets:
        began = time.perf_counter()
        engine = engines.get(name)
        opened = time.perf_counter() - began
        began = time.perf_counter()
        engine.ask(QUESTIONS[0])
        first = time.perf_counter() - began
        gc.collect()
        print(f"set {name}: opened in {opened * 1000:.1f} ms, first question {first * 1000:.0f} ms, "
              f"+{rss_mib() - start:.0f} MiB since the first extra set")
    return default


def measure_questions(engine: Engine, model: str) -> None:
    questions = QUESTIONS * 40
    with ThreadPoolExecutor(4) as pool:
        started = time.perf_counter()
        list(pool.map(engine.ask, questions))
        elapsed = time.perf_counter() - started
    print(f"{len(questions)} questions, 4 threads: {len(questions) / elapsed:.1f} questions/s "
          f"({model or 'bundled model'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="embedding model: empty for the bundled one, or 'hash'")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/citebot-capacity"), help="scratch folder (emptied)")
    args = parser.parse_args()
    configure_process()
    shutil.rmtree(args.dir, ignore_errors=True)
    measure_guilds()
    engine = measure_engines(args.model, args.dir)
    measure_questions(engine, args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())

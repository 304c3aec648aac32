"""The public entry point: one object that indexes, answers and reports, built from settings."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from . import check, ledger, state
from . import repair as repairs
from .check import CheckReport
from .embedder import Embedder, make_embedder
from .errors import CitebotError, StoreUnavailable, UsageError
from .indexer import IndexReport, Progress, build
from .reader import make_reader
from .search import Answer, Hit, Mode, Searcher, clean_question, complete_blocks, joined, shown_passage
from .settings import Settings, get_settings
from .store import Store, StoredChunk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stats:
    files: int
    chunks: int
    model: str
    built_at: float | None
    generation: int
    root: str
    store: str

    def to_json(self) -> dict[str, object]:
        return {
            "files": self.files, "chunks": self.chunks, "model": self.model,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.built_at)) if self.built_at else None,
            "generation": self.generation, "root": self.root, "store": self.store,
        }


class Engine:
    """Index a folder and answer questions from it; safe to share between threads.

    The model loads on first use, so ``stats`` and an unchanged re-index never pay for it.
    """

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings or get_settings()
        s = self.settings
        self.embedder = embedder or make_embedder(s.model, s.device, s.batch_size, s.onnx, s.onnx_cache())
        self.store = Store(s)
        self.ledger = ledger.open_ledger(s)  # where commits live: the state folder, or the Chroma server
        self.commits = state.CommitWatch(self.ledger)
        self.commits.on_commit(self._check_commit)
        self.searcher = Searcher(s, self.embedder, self.store, make_reader(s, self.embedder.name), self.commits)

    def index(
        self, folder: Path | None = None, progress: Progress | None = None, wait: float = 0.0, thorough: bool = False
    ) -> IndexReport:
        """Bring the index in step with ``folder`` (default: the ``docs_dir`` setting), repairing what the cheap
        part of ``check`` finds on the way (all of ``check`` with ``thorough``)."""
        return build(self.settings, folder or self.settings.docs_dir, self.embedder, self.store, progress, wait,
                     thorough=thorough)

    def check(self, repair: bool = False, folder: Path | None = None, wait: float = 0.0) -> CheckReport:
        """Whether the committed index is whole (see ``citebot.index.check``); ``IndexMissing`` when nothing is
        indexed. With ``repair``, fix what can be fixed and report what was done and what is left.

        A keyword index alone is rebuilt from the stored chunks (no folder needed); anything else is an index
        run over ``folder`` (default: the folder the manifest names; when it cannot be read, the ``docs_dir``
        setting if one is set), which re-embeds what Chroma lost. Loads the model only to embed.
        """
        s = self.settings
        self.store.reopen()  # look at what is on disk now, not at what this process loaded before
        report = check.inspect(s, self.store)
        if not repair or report.healthy:
            return report
        done: list[str] = []
        if any(p.part == "chroma" for p in report.problems):
            report = self._set_vectors_aside(report, done, wait)
            if any(p.part == "chroma" for p in report.problems):
                return report
        if all(p.part == "keyword" for p in report.problems):
            state_dir = self.ledger.state_dir
            with self.ledger.lock(wait):
                manifest = self.ledger.load()  # again, under the lock: a commit may have landed
                if manifest is not None and check.keyword_problem(state_dir, manifest) is not None:
                    done.append(repairs.rebuild_keyword_index(state_dir, self.store, manifest))
        else:
            root = folder or self._indexed_folder(report)
            if root is None:
                return report  # the manifest's fix says to name the folder
            try:
                result = self.index(root, wait=wait, thorough=True)
            except UsageError as exc:  # the folder the manifest names is gone
                raise UsageError(f"cannot repair: {exc}: name the folder, `citebot check --repair DIR`") from None
            done += result.repaired + [f"indexed {root} again: {result.summary()}"]
        after = check.inspect(s, self.store)
        after.repaired = done
        return after

    def _set_vectors_aside(self, report: CheckReport, done: list[str], wait: float) -> CheckReport:
        """A local Chroma that does not open because its vector index is unreadable opens without it: set the
        vector segment folders aside (kept), and the chunks whose vectors went with them are found by id and
        embedded again. Put back when Chroma still does not open: the damage is elsewhere."""
        s = self.settings
        if s.chroma_host:
            return report
        with self.ledger.lock(wait):
            moved = repairs.set_aside(check.vector_segments(s.db_path))
            self.store.reopen()
            after = check.inspect(s, self.store)
            if any(p.part == "chroma" for p in after.problems):
                repairs.put_back(moved)
                self.store.reopen()
                return report
        if moved:
            done.append(f"set the unreadable vector index aside as {', '.join(p.name for p in moved)}")
        return after

    def _indexed_folder(self, report: CheckReport) -> Path | None:
        if report.manifest is not None and report.manifest.root:
            return Path(report.manifest.root)
        return self.settings.docs_dir if "docs_dir" in self.settings.model_fields_set else None

    def ask(self, question: str, k: int | None = None, mode: Mode = "hybrid") -> Answer:
        """The best passages for ``question``, or none when nothing is relevant enough."""
        self.commits.latest()  # a new commit is checked before the question is embedded
        return self.searcher.search(question, k, mode)

    def _check_commit(self, manifest: state.Manifest | None) -> None:
        """Run once per newly seen commit (by ``self.commits``), before anything searches it.

        Another process's commit means the local Chroma directory changed under this one: reopen it.
        And refuse to compare a question embedded by one model with passages embedded by another:
        vectors of two models of the same size do not raise anywhere, they just match at random.
        """
        if manifest is None:
            return
        if manifest.writer != state.process_token():
            self.store.reopen()
        if manifest.model and manifest.model != self.embedder.name:
            raise UsageError(
                f"the index at {self.store.where} was built with the model {manifest.model!r}, not "
                f"{self.embedder.name!r}: re-index (citebot index) or set CITEBOT_MODEL to the model it was built with"
            )

    def passage(self, source: str, line_start: int, line_end: int, line: int | None = None) -> Hit | None:
        """The committed passage of ``source`` spanning exactly ``line_start``-``line_end`` (one chunk, or the
        chunks of one section that an answer joined into one citation), else the chunk holding ``line`` (or
        ``line_start``), else None: read-only, for showing a cited passage again after a restart.

        The caller compares its text with what was cited (``Hit.text``) to tell whether the file changed since.
        """
        manifest = self.commits.latest().manifest
        entry = manifest.files.get(source) if manifest is not None else None
        if entry is None:
            return None
        chunks = self.store.get(entry.chunks)
        want = line if line is not None else line_start
        exact = [c for c in chunks if (c.line_start, c.line_end) == (line_start, line_end)]
        inside = sorted((c for c in chunks if line_start <= c.line_start and c.line_end <= line_end),
                        key=lambda c: c.line_start)
        holding = sorted((c for c in chunks if c.line_start <= want <= c.line_end), key=lambda c: c.line_start)
        by_id = {c.id: c for c in chunks}

        def completed(hit: Hit) -> Hit:  # as the answer completed the code blocks it cut (search.complete_blocks)
            return complete_blocks([hit], by_id, manifest, lambda ids: [by_id[i] for i in ids if i in by_id])[0]

        if exact:
            return completed(_as_hit(exact[0], want))
        if len(inside) > 1 and (inside[0].line_start, inside[-1].line_end) == (line_start, line_end):
            first = next((c for c in inside if c.line_start <= want <= c.line_end), inside[0])
            hit = _as_hit(first, want)
            for chunk in inside:
                if chunk is not first:
                    hit = joined(hit, _as_hit(chunk, want))
            return completed(hit)
        return completed(_as_hit(holding[0], want)) if holding else None

    def sources(self) -> list[str]:
        """The committed files' paths, as hits cite them, sorted; empty before the first commit. Read-only: lets
        the bot find the file behind a citation it showed shortened."""
        manifest = self.commits.latest().manifest
        return sorted(manifest.files) if manifest is not None else []

    def sections_near(self, question: str, n: int = 3) -> list[str]:
        """Heading paths (else file paths) of the passages nearest ``question`` however weak, nearest first and
        without repeats: what to offer a member when nothing answers. One query embedding and one vector search."""
        if n <= 0:
            return []
        manifest = self.commits.latest().manifest
        if manifest is None:
            return []
        vector = self.embedder.embed_queries([clean_question(question)])[0]
        # Four neighbours per title wanted: neighbouring chunks of one section share its heading path.
        near = self.store.query(vector, 4 * n, frozenset(manifest.chunk_ids()), manifest.generation)
        titles: list[str] = []
        for chunk, _ in near:
            title = chunk.context.strip() or chunk.source
            if title not in titles:
                titles.append(title)
        return titles[:n]

    def stats(self) -> Stats:
        try:
            manifest = self.ledger.load() or state.Manifest()
        except StoreUnavailable:
            # The manifest lives on the Chroma server (issue 13): while it is down, a long-lived process (the
            # bot's /status) tells what it last saw; one that never saw a commit (a fresh CLI) says it is down.
            seen = self.commits.seen()
            if seen is None or seen.manifest is None:
                raise
            manifest = seen.manifest
        return Stats(
            len(manifest.files), len(manifest.chunk_ids()), manifest.model or self.embedder.name,
            manifest.built_at or None, manifest.generation, manifest.root, self.store.where,
        )

    def warm_up(self) -> None:
        """Load the models (and, on a server, build this process's keyword index) now rather than on the first
        question."""
        try:
            self.commits.latest()
            self.searcher._refresh()
        except CitebotError as exc:  # nothing indexed yet, or the server down: the first question says so
            log.info("not loading the index yet: %s", exc)
        self.embedder.embed_queries(["warm up"])
        if self.searcher.reader is not None:
            self.searcher.reader.read("warm up", ["warm", "up"])


def _as_hit(chunk: StoredChunk, want: int) -> Hit:
    """A stored chunk as a hit pointing at line ``want`` (its first line when it does not hold it)."""
    texts = chunk.text.split("\n")
    at = next((i for i, (number, _) in enumerate(chunk.units) if number == want), 0)
    number, text = (chunk.units[at][0], texts[at]) if chunk.units else (chunk.line_start, chunk.text)
    also = list(chunk.units[at][1]) if chunk.units else []
    lines, shown = shown_passage(chunk, texts)
    return Hit(chunk.source, chunk.line_start, chunk.line_end, number, 0.0, shown, text, lines, also, (chunk.id,))

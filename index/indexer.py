"""Bring the index in step with a folder: embed only what changed, commit atomically, then tidy up.

Every run first runs the cheap part of ``check`` and repairs what it finds: a manifest it cannot read is set
aside and the folder indexed from scratch (reusing the vectors Chroma holds), a lost or damaged keyword index
is rebuilt from the stored chunks, and files whose chunks (or vectors) Chroma lost are embedded again.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import check, ledger, repair, state, xref
from .chunker import Chunk, chunk_document, embedded_text
from .cleaner import clean
from .embedder import Embedder
from .errors import IndexDamaged, NoSpace, StoreUnavailable, UsageError
from .formats import line_structure, targets
from .loader import Document, Skipped, scan
from .settings import Settings
from .store import Store, StoredChunk
from .structure import LineInfo, reader_text

log = logging.getLogger(__name__)
# 2: Markdown parsed with markdown-it-py (fences, setext headings, front matter). 3: format-aware structure
# (MkDocs extensions, reST, HTML, code), reader text stored, markup flags and prose scores in the metadata.
# 4: the ``` / ~~~ lines of Markdown fences are markup (never the answering line). 5: a bare reST :ref: label
# reads as its words ("intents primer"), not as the label. 6: Docusaurus/MDX, VitePress and MyST markup read as
# such, HTML furniture found by its attributes, AsciiDoc and Jupyter notebooks read by their format, reST layout
# directives (grid, tab-set) neither headings nor text, GitBook/Jekyll/Hugo template tags markup, camelCase
# names also keyword-indexed by their words: a file unchanged on disk is read again. 7: MyST ``{eval-rst}``
# bodies read as reST, and a reST directive whose body is Python (``.. click:example::``) as code. 8: an include
# line inside a fence (``{!> ../x.py!}``, ``--8<-- "x.py"``) is markup; a link's attribute list is never shown;
# pymdownx blocks nested with more slashes (``//// tab | Python 3.10+``) are markers, not prose; a Markdown
# term's tooltip (``<abbr title="...">``) is read after it; a console fence's color tags are not seen. 9: a fence
# whose lines are all markup is still a paragraph of its own (never packed with the prose after it). 10: an empty
# Markdown fence, a block attribute list ("{#id}") and a mkdocs-macros variable ("{{ table }}") are never seen (the
# build puts something else there); an include line reads as the file it includes ("(from docs_src/x.py)"). 11: a
# chunk records the code blocks it holds only part of (``StoredChunk.cut_blocks``), which an answer completes, and
# the repeated lines of its code blocks (``StoredChunk.repeats``), which it shows; a reST ``.. admonition:: Title``
# hides its options; a Markdown emoji shortcode reads as its emoji (":x:" is "❌"). 12: a sentence ending in a
# colon is packed with what it introduces (a code block, a list: ``chunker._join_lead_ins``). 13: HTML themes'
# footers (<div class="footer">), screen-reader labels and line-number gutters are hidden, an admonition's title
# is markup, a highlighted block's first line is not indented by the <div>s it opens in, and a Sphinx API object
# (<dl class="py function">) joins the heading path of its lines, as in reST; mkdocstrings' ``::: pkg.obj``
# reads "(API reference: pkg.obj)". 14: a ".txt" written in reST (Django's docs) or AsciiDoc (git's manual pages)
# is read as such (``formats.sniffed``); AsciiDoc's two-line titles ("NAME" over "----"), conditionals, list
# continuations, other inline macros ("linkgit:git-add[1]") and description list terms ("--amend::") are read;
# a reST role cut by a line break reads as its text on the line it starts on (a literal so cut as a literal), a
# capitalized directive (".. Important::") is the directive, and a project's directive whose
# body opens at a prompt (Django's ``.. console::``, "$ python -m django") is code. 15: mdBook's menu bar (the
# book's title as every page's first heading) and the lines its examples hide are not the page's text.
# mdBook's sources: "{{#include x.rs:anchor}}" reads as the file it puts there, "{{#title}}" is never seen.
# A Markdown link cut by a line break reads as its words; a link reference definition is never seen. 16: a reST
# role written after its text ("`worker <guide-workers>`:ref:") reads as its text, and ".. name::x" (no space
# after "::") is a comment, as docutils reads both. 17: a table row (Markdown's pipe tables, reST's grid
# tables) reads as its cells without pipes and padding, an opening fence as its language and title (no build
# options), a reST body field (":Exit code 0: ...") as its name and value, a titled reference in the default
# role ("`RabbitMQ <broker-amqp>`") as its title, emphasis as its words, a Markdown link whose words run over
# three lines or whose target goes on the next line as its words; a table's header row is chunked with its rows.
# 18: a bare reST ":ref:" / ":doc:" (and MyST's "{ref}" / "{doc}") reads as the title of the section or page it
# names, found anywhere in the folder (xref.py); a page's entry keeps the titles it showed (FileEntry.refs). A
# reST substitution the page defines ("|commands|", ".. |commands| replace:: ...") reads as its replacement.
PIPELINE_VERSION = "18"
Progress = Callable[[str, int, int], None]
# Chunks sent to the model per round, in model batches (settings.batch_size): each round is one progress step.
# Picked by hand, not tuned: small enough that progress moves.
EMBED_BATCHES_PER_ROUND = 4
# Embedded chunks are stored in upserts that start at one round and double up to this many chunks (Store.upsert's
# own batch): each Chroma upsert costs about 0.1 s besides its chunks (measured on the pydantic docs, 994 chunks,
# 2 cores: 8 upserts of 128 took 1.4 s, one of 994 took 0.7 s), half the pipeline's own time there. Starting small
# keeps what a failure early in a run loses small; growing bounds it at this many chunks (about a minute of the
# bundled model on 2 cores), which are embedded again by the next run.
UPSERT_MAX_CHUNKS = 1000


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # damage this run found and repaired, one line each
    chunks: int = 0  # chunks in the committed index
    embedded: int = 0  # chunks this run sent through the model
    reused: int = 0  # new chunks whose vectors were found already stored
    seconds: float = 0.0
    generation: int = 0

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.removed} removed, {self.unchanged} unchanged, "
            f"{len(self.skipped)} skipped; {self.chunks} chunks ({self.embedded} embedded); {self.seconds:.1f} s"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "added": self.added, "updated": self.updated, "removed": self.removed, "unchanged": self.unchanged,
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
            "warnings": self.warnings, "repaired": self.repaired, "chunks": self.chunks, "embedded": self.embedded,
            "reused": self.reused, "seconds": round(self.seconds, 3), "generation": self.generation,
        }


def signature(settings: Settings, model_name: str) -> str:
    """What the chunks depend on besides file content; a change re-embeds everything."""
    return "|".join(
        [PIPELINE_VERSION, model_name, str(settings.chunk_tokens), str(settings.overlap_lines),
         str(settings.drop_boilerplate)]
    )


@dataclass(frozen=True)
class _Blocks:
    """A document's code blocks, for what a chunk holds of them: each block's first and last line (1-based) by
    its number (``LineInfo.code_block``), its lines that are chunked, and its lines collapsed into an earlier
    copy (``cleaner.clean``: a repeated import), with their text."""

    spans: dict[int, tuple[int, int]]
    kept: dict[int, list[int]]
    repeats: dict[int, list[tuple[int, str]]]

    @classmethod
    def of(cls, infos: Sequence[LineInfo], shown: Sequence[str], duplicate_of: Mapping[int, int],
           keep: Sequence[bool]) -> _Blocks:
        spans: dict[int, tuple[int, int]] = {}
        kept: dict[int, list[int]] = {}
        repeats: dict[int, list[tuple[int, str]]] = {}
        for k, info in enumerate(infos):
            block = info.code_block
            if block is None:
                continue
            spans[block] = (spans.get(block, (k + 1, k + 1))[0], k + 1)
            if k in duplicate_of:
                repeats.setdefault(block, []).append((k + 1, shown[k]))
            elif keep[k]:
                kept.setdefault(block, []).append(k + 1)
        return cls(spans, kept, repeats)

    def shown_repeats(self, chunk: Chunk) -> list[tuple[int, str]]:
        """The repeated lines of the blocks ``chunk`` holds that a reader of it must see: from its first line of
        a block (the block's first line, if it holds the first chunked one) to the next chunked line after its
        last (the block's last line, if it holds the last), so that the pieces of a cut block share none."""
        found: list[tuple[int, str]] = []
        for block in sorted(chunk.code_blocks):
            mine = [u.line for u in chunk.units if u.code_block == block]
            kept, (first, last) = self.kept.get(block, mine), self.spans[block]
            lo = first if mine[0] == kept[0] else mine[0]
            hi = last if mine[-1] == kept[-1] else min(n for n in kept if n > mine[-1]) - 1
            found += [(n, text) for n, text in self.repeats.get(block, []) if lo <= n <= hi]
        return found

    def cut(self, first_line: int, last_line: int, held: set[int]) -> list[tuple[int, int]]:
        """The spans of the blocks among ``held`` that reach past ``first_line`` .. ``last_line``."""
        return sorted({self.spans[b] for b in held
                       if not first_line <= self.spans[b][0] <= self.spans[b][1] <= last_line})


def _stored(chunk: Chunk, model_name: str, blocks: _Blocks) -> StoredChunk:
    units = [(u.line, list(u.also_at)) for u in chunk.units]
    markup, prose = chunk.markup, round(chunk.prose, 4)
    repeats = blocks.shown_repeats(chunk)
    first = min([chunk.line_start, *(n for n, _ in repeats)])
    last = max([chunk.line_end, *(n for n, _ in repeats)])
    cut = blocks.cut(first, last, chunk.code_blocks)
    extra = [json.dumps(cut), json.dumps(repeats)] if cut or repeats else []
    # The flags are part of what is stored, so they are part of the id: a chunk whose text is unchanged but
    # whose markup reading changed is a new chunk, never an old one reused with stale flags.
    digest = hashlib.sha256(
        "\x1f".join([model_name, chunk.context, *(u.text for u in chunk.units), json.dumps(markup), str(prose), *extra])
        .encode()
    ).hexdigest()
    cid = hashlib.sha256(f"{chunk.source}\x00{json.dumps(units)}\x00{digest}".encode()).hexdigest()[:32]
    return StoredChunk(cid, chunk.source, first, last, chunk.text, units, chunk.context, digest,
                       markup=markup, prose=prose, cut_blocks=cut, repeats=repeats)


def _chunks_for(
    doc: Document, settings: Settings, embedder: Embedder, titles: xref.Titles
) -> tuple[list[StoredChunk], dict[str, str]]:
    """The file's chunks, and the cross-references they show (``xref.reading``), for its manifest entry."""
    # The cleaner judges what a reader sees (roles resolved, tags dropped), not the raw markup; headings, code and
    # markup are structure, never page furniture.
    with xref.reading(doc.source, titles) as refs:
        infos = line_structure(doc.source, doc.lines)
        shown = [reader_text(line, info) for line, info in zip(doc.lines, infos)]
        stops = [i.is_heading or i.markup or i.code_block is not None for i in infos]
        cleaned = clean(shown, settings.drop_boilerplate, stops)
        window = min(settings.chunk_tokens, embedder.max_tokens)
        chunks = chunk_document(doc.source, doc.lines, cleaned, window, embedder.count_tokens,
                                settings.overlap_lines, infos)
    # Identical pieces of one over-long line (a line of repeated text) get identical ids: store each once.
    unique: dict[str, StoredChunk] = {}
    blocks = _Blocks.of(infos, shown, cleaned.duplicate_of, cleaned.keep)
    for c in chunks:
        stored = _stored(c, embedder.name, blocks)
        unique.setdefault(stored.id, stored)
    return list(unique.values()), refs


def _embedded(chunk: StoredChunk) -> str:
    """What the model embeds: the passage under its heading path (the keyword index indexes its words too,
    ``repair.keyword_terms``)."""
    return embedded_text(chunk.context, chunk.text)


@dataclass
class Plan:
    """What one run is to do, decided under the writer lock before anything is written."""

    old: state.Manifest  # the committed manifest (empty before the first run)
    signature: str  # of this run's settings and model
    dirty: bool  # a previous run may have left uncommitted chunks in Chroma
    rebuild: bool  # the signature changed: every file is embedded again
    found: int  # documents found in the folder
    changed: list[Document]  # new and changed files, and files whose chunks Chroma lost
    removed: list[str]  # committed files no longer in the folder
    keep_on_error: set[str]  # committed files below something unreadable: their indexed version stays
    lost: set[str]  # committed chunk ids Chroma no longer holds, or holds without a vector
    skipped: list[Skipped]
    warnings: list[str]
    repaired: list[str]  # what this run repaired before planning
    started_over: bool  # the committed manifest could not be read: nothing committed is trusted
    titles: xref.Titles  # the folder's section and page titles, which cross-references show

    @property
    def nothing_to_do(self) -> bool:
        return (not self.changed and not self.removed and not self.dirty and not self.lost
                and bool(self.old.generation))

    def kept_files(self) -> dict[str, state.FileEntry]:
        """Committed files the new manifest keeps as they are.

        A kept file whose chunks Chroma lost (one that cannot be read now, so it cannot be embedded again) keeps
        only the chunks still stored, and no content hash: the first run that can read it indexes it again,
        and meanwhile every committed id is in Chroma and in the keyword index, as readers require.
        """
        dropped = set(self.removed) | {d.source for d in self.changed}
        kept = {s: e for s, e in self.old.files.items() if s not in dropped}
        if self.rebuild:
            kept = {s: e for s, e in kept.items() if s in self.keep_on_error}
        for source, entry in kept.items():
            if self.lost.intersection(entry.chunks):
                kept[source] = state.FileEntry("", [c for c in entry.chunks if c not in self.lost])
        return kept

    def count_into(self, report: IndexReport) -> None:
        report.skipped, report.warnings, report.repaired = self.skipped, self.warnings, self.repaired
        report.added = sum(1 for d in self.changed if d.source not in self.old.files)
        report.updated = len(self.changed) - report.added
        report.removed = len(self.removed)
        report.unchanged = self.found - len(self.changed)


def build(
    settings: Settings,
    root: Path,
    embedder: Embedder,
    store: Store,
    progress: Progress | None = None,
    wait: float = 0.0,
    before_commit: Callable[[], None] | None = None,
    thorough: bool = False,
) -> IndexReport:
    """Index ``root`` incrementally; the previous index keeps answering until the new one is committed.

    Plan (what changed, and what of the committed index was lost), write (chunks, vectors, keyword index:
    nothing a reader trusts yet), commit (the manifest, in one rename), clean up (what the old manifest owned
    and the new one does not). ``thorough`` reads every committed vector to find lost ones, not a sample
    (``check.VECTOR_SAMPLE``): ``citebot check --repair`` pays that, a plain re-index does not.
    """
    started = time.perf_counter()
    if not root.exists():
        raise UsageError(f"no such folder: {root}")
    if not root.is_dir():
        raise UsageError(f"not a folder: {root}")
    books = ledger.open_ledger(settings)
    report = IndexReport()
    with books.lock(wait):
        plan = _plan(settings, root, embedder, store, books, thorough)
        plan.count_into(report)
        if plan.nothing_to_do:
            report.chunks = len(plan.old.chunk_ids())
            report.generation = plan.old.generation
        else:
            books.mark_dirty()
            pending: list[StoredChunk] = []
            try:
                new = _write(plan, settings, root, embedder, store, books.state_dir, pending, report, progress)
                if before_commit:
                    before_commit()
            except BaseException as exc:
                if not plan.started_over:  # else no index is committed for them to crowd, and the retry reuses them
                    _discard_uncommitted(store, pending, plan.old)
                full = _out_of_space(exc, store)
                if full is not None:
                    raise full from exc
                raise
            _commit(books, new)
            _clean_up(books, store, plan, new)
            report.chunks = len(set(new.chunk_ids()))
            report.generation = new.generation
    report.seconds = time.perf_counter() - started
    return report


def _plan(
    settings: Settings, root: Path, embedder: Embedder, store: Store, books: state.Ledger, thorough: bool = False
) -> Plan:
    """Compare the folder with the committed manifest (and with what Chroma still holds), repairing on the way
    what the cheap part of ``check`` finds damaged."""
    repaired: list[str] = []
    state_dir = books.state_dir
    old, started_over = _committed(books, root, repaired)
    dirty = books.is_dirty() or started_over
    if old.writer != state.process_token() or dirty:
        store.reopen()  # another process wrote since this one last looked
    store.ping()  # an unreachable server is reported even when nothing changed
    if not old.generation and not dirty and store.count():
        dirty = True  # chunks but no manifest (it was deleted): after the commit, remove those no file owns
    sig = signature(settings, embedder.name)
    rebuild = old.signature != sig
    # A server-mode keyword folder is this process's cache (keyword_cache.py): missing, it is no damage.
    ours = bool(old.generation) and not started_over and not books.keyword_cache
    problem = check.keyword_problem(state_dir, old) if ours else None
    if problem is not None:  # rebuilt in place: readers need it until the next commit, and this run takes terms from it
        repaired.append(f"{problem.problem}: {repair.rebuild_keyword_index(state_dir, store, old)}")
    found = scan(root, settings.extensions, settings.exclude, settings.follow_symlinks, settings.max_file_bytes)
    warnings = list(found.warnings)
    unreadable = [s.source for s in found.skipped if s.reason.startswith("unreadable")]
    keep_on_error = {s for s in old.files if _under_any(s, unreadable)}
    current = {d.source for d in found.documents}
    gone, no_vectors = (set(), set()) if rebuild else check.lost_chunks(store, old, thorough)
    if gone:
        warnings.append(
            f"{len(gone)} indexed chunk(s) of {len(check.files_of(old, gone))} file(s) were missing from "
            f"{store.where}; indexing those files again"
        )
    if no_vectors:
        warnings.append(
            f"{len(no_vectors)} indexed chunk(s) of {len(check.files_of(old, no_vectors))} file(s) had no vector in "
            f"{store.where}; indexing those files again"
        )
    lost = gone | no_vectors
    lost_files = check.files_of(old, lost)
    changed = [d for d in found.documents if rebuild or d.source not in old.files
               or old.files[d.source].sha256 != d.sha256 or d.source in lost_files]
    removed = [s for s in old.files if s not in current and s not in keep_on_error]
    titles = xref.Titles()
    if changed or removed:
        # Every page's targets, the unchanged pages' too: a page is read again when a title it shows changed.
        # Titles change only with files, so a run with none to read skips this (on Django's 648 pages, 0.7 s).
        titles = xref.Titles.of((d.source, targets(d.source, d.lines)) for d in found.documents)
        read = {d.source for d in changed}
        read |= {d.source for d in found.documents if d.source in old.files and xref.stale(old.files[d.source].refs,
                                                                                            titles)}
        changed = [d for d in found.documents if d.source in read]
    return Plan(old, sig, dirty, rebuild, len(current), changed, removed, keep_on_error, lost, found.skipped,
                warnings, repaired, started_over, titles)


def _committed(books: state.Ledger, root: Path, repaired: list[str]) -> tuple[state.Manifest, bool]:
    """The committed manifest (empty before the first run), and whether this run starts over because it could
    not be read: then it is set aside, kept for a post-mortem, and ``root`` indexed from scratch."""
    try:
        return books.load() or state.Manifest(), False
    except IndexDamaged as exc:
        aside = books.set_aside()
        repaired.append(f"{exc.problem}: set it aside as {aside} and indexed {root} again from scratch")
        # Numbered past every generation left (keyword folders, manifest records), which a reader could
        # otherwise take for the new one's.
        return state.Manifest(generation=books.generation_floor()), True


def _write(
    plan: Plan, settings: Settings, root: Path, embedder: Embedder, store: Store, state_dir: Path,
    pending: list[StoredChunk], report: IndexReport, progress: Progress | None,
) -> state.Manifest:
    """Chunk and embed the changed files into Chroma and write the new generation's keyword index; returns
    the manifest to commit. ``pending`` collects the new chunks as they are made, so that a failure part way
    can take them out again."""
    new_files = plan.kept_files()
    for i, doc in enumerate(plan.changed):
        if progress:
            progress("chunk", i, len(plan.changed))
        chunks, refs = _chunks_for(doc, settings, embedder, plan.titles)
        new_files[doc.source] = state.FileEntry(doc.sha256, [c.id for c in chunks], refs)
        # Tagged with the generation this run writes: until it commits, readers may leave those out (Store.query).
        pending.extend(replace(c, generation=plan.old.generation + 1) for c in chunks)
    stored = set(plan.old.chunk_ids()) - plan.lost
    _embed_and_store(pending, embedder, store, settings.batch_size, stored, report, progress)
    new = state.Manifest(
        plan.old.generation + 1, plan.signature, embedder.name, str(root.resolve()), time.time(), new_files,
        state.process_token(),
    )
    cache = {} if plan.started_over else repair.cached_terms(state_dir, plan.old.generation)
    cache.update((c.id, repair.keyword_terms(c)) for c in pending)
    repair.write_keyword_index(state_dir, new, store, cache)  # terms of kept chunks from the last generation's
    return new


def _commit(books: state.Ledger, new: state.Manifest) -> None:
    """From here on readers answer from ``new``: one atomic step (a rename, or one pointer record on a
    server), so a crash on either side of it leaves one whole generation committed."""
    books.save(new)


def _clean_up(books: state.Ledger, store: Store, plan: Plan, new: state.Manifest) -> None:
    """After the commit: delete the chunks only the old manifest owned (after a killed run, every chunk the
    new one does not own), and keyword indexes no reader needs any more.

    The manifest is the collection's own (on a server, kept in the server: ``ledger.py``), so a chunk it does
    not list belongs to a generation of this collection that it no longer lists, or to a run that never
    committed: no other state folder's index can own it (issue 13: a second state folder's manifest used to).
    """
    keep = set(new.chunk_ids())
    stale = [c for c in plan.old.chunk_ids() if c not in keep]
    if plan.dirty:
        stale = [c for c in store.all_ids() if c not in keep]
    store.delete(stale)
    if stale:
        books.touch()
    for folder in state.old_keyword_dirs(books.state_dir, new.generation):
        shutil.rmtree(folder, ignore_errors=True)
    books.clear_dirty()


def _out_of_space(exc: BaseException, store: Store) -> NoSpace | None:
    """A full disk, said as what it means for the index, from a failed write of this run (chunks, vectors, the
    keyword index): nothing is committed yet, so the previous index answers as before."""
    if isinstance(exc, NoSpace) or (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)):
        return NoSpace(f"no space left on device while indexing into {store.where}: the previous index is intact; "
                       "free some space and run `citebot index` again")
    return None


def _under_any(source: str, folders: list[str]) -> bool:
    """Whether ``source`` is one of ``folders`` or lies below one ("." is the root)."""
    return any(f == "." or source == f or source.startswith(f + "/") for f in folders)


def _discard_uncommitted(store: Store, pending: list[StoredChunk], old: state.Manifest) -> None:
    """After a failed run, take its uncommitted chunks out of Chroma so they cannot crowd the old index's
    results; best effort: whatever is left is collected by the next run (the dirty marker stays)."""
    old_ids = set(old.chunk_ids())
    ids = sorted({c.id for c in pending if c.id not in old_ids})
    try:
        store.delete(ids)
    except Exception:  # noqa: BLE001 - the original failure is the one to report
        log.warning("could not remove %d uncommitted chunks; the next run will", len(ids))


def _embed_and_store(
    pending: list[StoredChunk], embedder: Embedder, store: Store, batch_size: int, stored: set[str],
    report: IndexReport, progress: Progress | None,
) -> None:
    """Upsert new chunks (those not among ``stored``), reusing vectors of text already embedded anywhere in
    the collection."""
    todo = [c for c in pending if c.id not in stored]
    reusable = _reusable(store, todo)
    fresh: list[StoredChunk] = []
    reused: list[StoredChunk] = []
    for c in todo:
        hit = reusable.get(c.hash)
        if hit is not None and hit.embedding is not None:
            reused.append(_with_vectors(c, hit.embedding, hit.lines_matrix()))
        else:
            fresh.append(c)
    store.upsert(reused)
    report.reused = len(reused)
    step = batch_size * EMBED_BATCHES_PER_ROUND
    unstored: list[StoredChunk] = []
    flush_at = step
    for i in range(0, len(fresh), step):
        if progress:
            progress("embed", i, len(fresh))
        batch = fresh[i : i + step]
        texts = [_embedded(c) for c in batch]
        spans = [_unit_spans(c, text) for c, text in zip(batch, texts, strict=True)]
        vectors, line_vectors = embedder.embed_passages(texts, spans)
        unstored.extend(_with_vectors(c, v, lv) for c, v, lv in zip(batch, vectors, line_vectors, strict=True))
        report.embedded += len(batch)
        if len(unstored) >= flush_at:
            store.upsert(unstored)
            unstored, flush_at = [], min(flush_at * 2, max(UPSERT_MAX_CHUNKS, step))
    store.upsert(unstored)
    if progress:
        progress("embed", len(fresh), len(fresh))


def _reusable(store: Store, todo: list[StoredChunk]) -> dict[str, StoredChunk]:
    """Stored chunks whose vectors ``todo`` can reuse, by hash. Reuse only saves time: when the vector index
    cannot hand them back (it lost vectors, which is why some of ``todo`` are here), everything is embedded."""
    if not todo:
        return {}
    try:
        return store.find_by_hash(sorted({c.hash for c in todo}))
    except StoreUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - see above; an upsert that fails the same way is reported
        log.info("cannot reuse stored vectors (%s: %s); embedding every new chunk", type(exc).__name__,
                    next(iter(str(exc).splitlines()), ""))
        return {}


def _unit_spans(chunk: StoredChunk, embedded: str) -> list[tuple[int, int]]:
    """Where each displayed line lies in ``embedded`` (the chunk's embedded text, which ends with its passage),
    in characters: the model pools each line's vector over its span."""
    pos = len(embedded) - len(chunk.text)
    spans = []
    for line in chunk.text.split("\n"):
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def _with_vectors(chunk: StoredChunk, embedding: np.ndarray | None, line_vectors: np.ndarray | None) -> StoredChunk:
    return replace(chunk, embedding=embedding, line_vectors=line_vectors)

"""Find the documents under a folder and decode them so that line numbers match the file on disk."""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .html import is_html
from .ignore import Ignores
from .site import furniture, minified, template, theme_assets, unlisted

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Document:
    """A decoded text file; ``lines[i]`` is line ``i + 1`` as an editor numbers it."""

    source: str  # path relative to the indexed folder, POSIX separators
    lines: list[str]
    sha256: str
    replaced_bytes: int = 0  # invalid UTF-8 sequences replaced with U+FFFD


@dataclass(frozen=True)
class Skipped:
    """A file left out, with the reason shown to the user once."""

    source: str
    reason: str


NAMED_IN_GROUP = 3  # files a grouped line names before its count of the rest


def by_reason(skipped: list[Skipped]) -> list[tuple[str, list[str]]]:
    """Files left out, grouped by reason in the order reasons first appear: a built site leaves out a copy of
    every page's source, and a report listing hundreds of lines would say one thing (``citebot index``, the
    bot's ``/reindex``)."""
    groups: dict[str, list[str]] = {}
    for item in skipped:
        groups.setdefault(item.reason, []).append(item.source)
    return list(groups.items())


def group_line(reason: str, sources: list[str], name: Callable[[str], str] = str) -> str:
    """One line for many files left out for one reason: their count, the reason, the first few (each as
    ``name`` shows it) and how many more."""
    named = ", ".join(name(source) for source in sources[:NAMED_IN_GROUP])
    return f"{len(sources):,} files: {reason} ({named} and {len(sources) - NAMED_IN_GROUP:,} more)"


@dataclass
class Scan:
    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def split_lines(text: str) -> list[str]:
    """Split on CRLF, CR or LF; a final line break does not start an extra empty line."""
    if not text:
        return []
    parts = _LINE_BREAK.split(text)
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def decode(data: bytes) -> tuple[str, int]:
    """UTF-8 with the BOM dropped; invalid bytes become U+FFFD and are counted."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), 0
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        return text, text.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd")


def read_document(path: Path, source: str, max_bytes: int) -> Document | Skipped:
    """Read one file, refusing binaries and oversize files without reading them whole."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return Skipped(source, f"larger than the {max_bytes:,}-byte limit ({size:,} bytes)")
        with path.open("rb") as fh:
            head = fh.read(min(_SNIFF_BYTES, max_bytes + 1))
            if b"\x00" in head:
                return Skipped(source, "binary file (NUL bytes)")
            data = head + fh.read(max_bytes + 1 - len(head))  # one byte more than allowed tells it grew
    except FileNotFoundError:
        return Skipped(source, "disappeared while indexing")
    except PermissionError:
        return Skipped(source, "unreadable (permission denied)")
    except OSError as exc:
        return Skipped(source, f"unreadable ({exc.strerror or exc})")
    if len(data) > max_bytes:
        return Skipped(source, f"grew past the {max_bytes:,}-byte limit while being read")
    if b"\x00" in data:
        return Skipped(source, "binary file (NUL bytes)")
    text, replaced = decode(data)
    return Document(source, split_lines(text), hashlib.sha256(data).hexdigest(), replaced)


def _utf8(name: str) -> bool:
    """Names that are not UTF-8 reach Python as lone surrogates, which no citation or store can carry."""
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _shown(name: str) -> str:
    """A printable form of a file name, undecodable bytes shown as U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _dir_key(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _excluded(rel: str, name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p) for p in patterns)


def _folder_problem(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return f"path too long for the operating system ({len(str(path)):,} characters; not indexed)"
    return f"unreadable folder ({exc.strerror or exc})"


def iter_files(
    root: Path, extensions: list[str], exclude: list[str], follow_symlinks: bool
) -> Iterator[tuple[Path, str] | Skipped]:
    """Walk ``root`` in a stable order; yields (path, source) or a Skipped for links it will not follow.

    What the project's ``.gitignore`` and ``.citebotignore`` files leave out is left out (``ignore.Ignores``),
    as is what ``exclude``'s patterns name. Links are followed only while they stay inside ``root`` unless
    ``follow_symlinks`` is set; a directory seen twice (a link loop) is visited once. The walk keeps its own
    stack of open folders rather than recursing, so that no nesting depth can exhaust Python's recursion limit
    (issue 12: 1,000 levels aborted the run); it visits folders in the same depth-first, name-sorted order.
    """
    root_real = root.resolve()
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    seen_dirs: set[tuple[int, int]] = set()
    ignores = Ignores.above(root)  # and each folder's own .gitignore / .citebotignore, read as it is entered

    def inside(p: Path) -> bool:
        try:
            p.resolve().relative_to(root_real)
            return True
        except (ValueError, OSError, RuntimeError):
            return False

    stack: list[Iterator[os.DirEntry[str]]] = []  # the entries still to visit of each folder being walked

    def enter(folder: Path) -> Skipped | None:
        """Push the folder's entries, sorted by name (not for a folder already walked or gone); or why not."""
        try:
            st = folder.stat()
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:
                return None
            seen_dirs.add(key)
            stack.append(iter(sorted(os.scandir(folder), key=lambda e: e.name)))
            ignores.read(folder)
            return None
        except FileNotFoundError:
            return None
        except OSError as exc:
            return Skipped(folder.relative_to(root).as_posix() or ".", _folder_problem(exc, folder))

    def visit(entry: os.DirEntry[str]) -> tuple[Path, str] | Skipped | Path | None:
        """What one entry is: a file to read, a Skipped, a folder to walk (a bare Path) or nothing to index."""
        path = Path(entry.path)
        rel = path.relative_to(root).as_posix()
        if entry.name.startswith(".") or _excluded(rel, entry.name, exclude):
            return None
        is_link = entry.is_symlink()
        try:
            is_dir = entry.is_dir()
            is_file = entry.is_file()
        except OSError:
            is_dir = is_file = False
        if is_link and not (is_dir or is_file):
            if path.suffix.lower() in exts or not path.suffix:
                return Skipped(_shown(rel), "broken or looping symbolic link")
            return None
        if not (is_dir or (is_file and path.suffix.lower() in exts)) or ignores.ignored(path, is_dir):
            return None
        if not _utf8(rel):
            return Skipped(_shown(rel), "name is not valid UTF-8 (rename it to index it)")
        if is_link and not follow_symlinks and not inside(path):
            return Skipped(rel, "symbolic link pointing outside the folder (not followed)")
        if not is_dir:
            return path, rel
        if is_link and _dir_key(path) in seen_dirs:
            return Skipped(rel, "symbolic link to a folder already indexed (not followed twice)")
        return path

    problem = enter(root)
    if problem is not None:
        yield problem
    while stack:
        entry = next(stack[-1], None)
        if entry is None:  # this folder is done: on with its parent's next entry
            stack.pop()
            continue
        item = visit(entry)
        if isinstance(item, Path):
            item = enter(item)
        if item is not None:
            yield item


def scan(root: Path, extensions: list[str], exclude: list[str], follow_symlinks: bool, max_bytes: int) -> Scan:
    """Read every indexable document under ``root``; problems become ``skipped`` or ``warnings``."""
    result = Scan()
    minified_ones: list[str] = []  # left out as minified; still where a built site's assets may be
    templates: list[str] = []  # left out as page templates; their folders hold a theme's scripts and styles
    for item in iter_files(root, extensions, exclude, follow_symlinks):
        if isinstance(item, Skipped):
            result.skipped.append(item)
            continue
        path, rel = item
        doc = read_document(path, rel, max_bytes)
        if isinstance(doc, Skipped):
            result.skipped.append(doc)
            continue
        why = minified(rel, doc.lines)
        if why is not None:
            result.skipped.append(Skipped(rel, why))
            minified_ones.append(rel)
            continue
        why = template(rel, doc.lines)
        if why is not None:
            result.skipped.append(Skipped(rel, why))
            templates.append(rel)
            continue
        if doc.replaced_bytes:
            result.warnings.append(f"{rel}: {doc.replaced_bytes} invalid UTF-8 sequence(s) replaced")
        result.documents.append(doc)
    # A built site's pages name their own scripts, styles and source copies (site.py): those are left out.
    pages = {d.source: d.lines for d in result.documents if is_html(d.source)}
    left_out = furniture(pages, [d.source for d in result.documents if d.source not in pages] + minified_ones)
    left_out.update(theme_assets(templates, [d.source for d in result.documents if d.source not in left_out]))
    left_out.update(unlisted({page: lines for page, lines in pages.items() if page not in left_out}))
    for source in minified_ones:  # already left out, as minified: they count only as where the assets are
        left_out.pop(source, None)
    if left_out:
        result.documents = [d for d in result.documents if d.source not in left_out]
        result.skipped.extend(Skipped(source, why) for source, why in sorted(left_out.items()))
    return result

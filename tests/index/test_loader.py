"""Finding and decoding documents: line numbers must match the file on disk whatever its encoding quirks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from citebot.index.loader import Document, Skipped, decode, iter_files, read_document, scan, split_lines
from citebot.index.settings import DEFAULT_EXCLUDE, DEFAULT_EXTENSIONS, split_csv

from .helpers import refuse_access, write_files

EXTS: list[str] = split_csv(DEFAULT_EXTENSIONS)  # type: ignore[assignment]
EXCLUDE: list[str] = split_csv(DEFAULT_EXCLUDE)  # type: ignore[assignment]
LIMIT = 2_000_000


def _scan(root: Path, follow: bool = False, limit: int = LIMIT):  # noqa: ANN202 - Scan
    return scan(root, EXTS, EXCLUDE, follow, limit)


def _read(path: Path, limit: int = LIMIT) -> Document:
    doc = read_document(path, path.name, limit)
    assert isinstance(doc, Document), doc
    return doc


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("", []),
        ("one", ["one"]),
        ("one\n", ["one"]),
        ("one\ntwo", ["one", "two"]),
        ("one\r\ntwo\r\n", ["one", "two"]),
        ("one\rtwo\r", ["one", "two"]),
        ("a\r\nb\rc\nd", ["a", "b", "c", "d"]),
        ("\n\n", ["", ""]),
        ("a\n\nb\n", ["a", "", "b"]),
    ],
)
def test_split_lines_numbers_lines_as_an_editor_does(text: str, lines: list[str]) -> None:
    assert split_lines(text) == lines


def test_bom_is_dropped_and_does_not_shift_lines(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbffirst\nsecond\n")
    doc = _read(tmp_path / "a.txt")
    assert doc.lines == ["first", "second"]
    assert doc.replaced_bytes == 0


def test_crlf_and_cr_files_keep_their_line_numbers(tmp_path: Path) -> None:
    (tmp_path / "crlf.txt").write_bytes(b"one\r\ntwo\r\n\r\nfour\r\n")
    (tmp_path / "cr.txt").write_bytes(b"one\rtwo\r\rfour")
    assert _read(tmp_path / "crlf.txt").lines == ["one", "two", "", "four"]
    assert _read(tmp_path / "cr.txt").lines == ["one", "two", "", "four"]


def test_no_trailing_newline_keeps_the_last_line(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"one\ntwo")
    assert _read(tmp_path / "a.txt").lines == ["one", "two"]


def test_empty_file_is_a_document_without_lines(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"")
    doc = _read(tmp_path / "a.txt")
    assert doc.lines == []


def test_invalid_utf8_is_replaced_counted_and_reported_once(tmp_path: Path) -> None:
    write_files(tmp_path, {"bad.txt": b"caf\xe9 au lait\nok line\n\xff\xfe end\n", "good.txt": "fine\n"})
    doc = _read(tmp_path / "bad.txt")
    assert doc.lines == ["caf\ufffd au lait", "ok line", "\ufffd\ufffd end"]
    assert doc.replaced_bytes == 3
    found = _scan(tmp_path)
    assert [d.source for d in found.documents] == ["bad.txt", "good.txt"]
    assert found.warnings == ["bad.txt: 3 invalid UTF-8 sequence(s) replaced"]
    assert found.skipped == []


def test_genuine_replacement_characters_are_not_counted_as_invalid() -> None:
    text, replaced = decode("a \ufffd b".encode())
    assert (text, replaced) == ("a \ufffd b", 0)
    text, replaced = decode("\ufffd".encode() + b"\x80")
    assert (text, replaced) == ("\ufffd\ufffd", 1)


def test_binary_files_are_skipped(tmp_path: Path) -> None:
    late_nul = b"text line\n" * 2000 + b"\x00tail"  # NUL beyond the first sniffed block
    write_files(tmp_path, {"img.txt": b"\x89PNG\r\n\x1a\n\x00\x00", "late.txt": late_nul})
    found = _scan(tmp_path)
    assert found.documents == []
    assert sorted(found.skipped, key=lambda s: s.source) == [
        Skipped("img.txt", "binary file (NUL bytes)"),
        Skipped("late.txt", "binary file (NUL bytes)"),
    ]


def test_size_limit_skips_without_reading_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        fh.truncate(200 * 1024 * 1024)  # sparse: 200 MB that costs no disk
    (tmp_path / "small.txt").write_text("small\n")
    opened: list[str] = []
    real_open = Path.open

    def spy_open(self: Path, *args: object, **kwargs: object):  # noqa: ANN202
        opened.append(self.name)
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", spy_open)
    found = _scan(tmp_path)
    assert found.skipped == [Skipped("big.txt", "larger than the 2,000,000-byte limit (209,715,200 bytes)")]
    assert "big.txt" not in opened and "small.txt" in opened
    assert [d.source for d in found.documents] == ["small.txt"]


def test_file_growing_past_the_limit_while_read_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "grows.txt"
    path.write_text("x" * 500)

    class StaleStat(type(path)):  # type: ignore[misc]
        """Reports the size the file had before it grew."""

        def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
            st = super().stat(follow_symlinks=follow_symlinks)
            return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid, 10,
                                   st.st_atime, st.st_mtime, st.st_ctime))

    result = read_document(StaleStat(path), "grows.txt", 100)
    assert result == Skipped("grows.txt", "grew past the 100-byte limit while being read")


def test_walk_is_sorted_filters_extensions_and_skips_hidden_and_excluded(tmp_path: Path) -> None:
    write_files(tmp_path, {
        "b.md": "b", "a.txt": "a", "sub/c.py": "c", "image.png": "x", "noext": "x",
        ".hidden.txt": "h", ".git/config.txt": "g", "node_modules/m.js": "m", "app.min.js": "m",
        "sub/deeper/D.TXT": "upper-case extension", "old/page.htm": "<p>an old site's page</p>",
    })
    items = list(iter_files(tmp_path, EXTS, EXCLUDE, False))
    assert all(not isinstance(i, Skipped) for i in items)
    assert [rel for _, rel in items] == [  # type: ignore[misc]
        "a.txt", "b.md", "old/page.htm", "sub/c.py", "sub/deeper/D.TXT"]


def _walked(root: Path) -> list[str]:
    return [item[1] for item in iter_files(root, EXTS, EXCLUDE, False) if not isinstance(item, Skipped)]


def test_the_projects_ignore_files_leave_out_what_they_name(tmp_path: Path) -> None:
    """.gitignore as git reads it (a folder pattern, a glob, a negation, a deeper file for its own folder) and
    .citebotignore after it in the same folder, its lines winning."""
    write_files(tmp_path, {
        ".gitignore": "_build/\ndrafts/*.md\n!drafts/keep.md\n",
        ".citebotignore": "changelog.md\n!sub/notes.md\n",
        "index.md": "i", "changelog.md": "c", "_build/html/index.html": "<p>built</p>",
        "drafts/wip.md": "w", "drafts/keep.md": "k",
        "sub/.gitignore": "notes.md\nprivate/\n", "sub/notes.md": "n", "sub/page.md": "p", "sub/private/x.md": "x",
        "other/_build.md": "a file, not the folder the pattern names",
    })
    assert _walked(tmp_path) == ["drafts/keep.md", "index.md", "other/_build.md", "sub/page.md"]


def test_ignore_files_above_the_folder_apply_within_its_git_work_tree(tmp_path: Path) -> None:
    """Indexing repo/docs: repo/.gitignore's "docs/_build/" applies, as git applies it; outside a work tree the
    folders above are not read; a folder the rules above ignore but that is indexed on purpose is indexed."""
    repo = tmp_path / "repo"
    write_files(repo, {".gitignore": "docs/_build/\nsite/\n", "docs/guide.md": "g",
                       "docs/_build/guide.html": "<p>g</p>", "site/index.html": "<p>built site</p>"})
    assert _walked(repo / "docs") == ["_build/guide.html", "guide.md"], "not a work tree yet: nothing above is read"
    (repo / ".git").mkdir()
    assert _walked(repo / "docs") == ["guide.md"]
    assert _walked(repo / "site") == ["index.html"], "asked for by name, though .gitignore leaves it out"


def test_names_with_spaces_and_non_ascii_are_indexed_under_their_own_name(tmp_path: Path) -> None:
    write_files(tmp_path, {"my notes.md": "spaces\n", "café/naïve ü.txt": "accents\n", "日本語.txt": "kanji\n"})
    found = _scan(tmp_path)
    assert sorted(d.source for d in found.documents) == ["café/naïve ü.txt", "my notes.md", "日本語.txt"]
    assert found.skipped == []


def test_name_that_is_not_utf8_is_skipped_and_reported(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("fine\n")
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt"), "wb") as fh:
        fh.write(b"latin-1 name\n")
    found = _scan(tmp_path)
    assert [d.source for d in found.documents] == ["ok.txt"]
    assert found.skipped == [Skipped("caf\ufffd.txt", "name is not valid UTF-8 (rename it to index it)")]


def test_symlinks(tmp_path: Path) -> None:
    outside = write_files(tmp_path / "outside", {"secret.txt": "outside the corpus\n"})
    docs = write_files(tmp_path / "docs", {"real.txt": "real\n", "sub/inner.txt": "inner\n"})
    (docs / "alias.txt").symlink_to(docs / "real.txt")  # inside: followed
    (docs / "leak.txt").symlink_to(outside / "secret.txt")  # outside: not followed
    (docs / "leakdir").symlink_to(outside, target_is_directory=True)
    (docs / "loop.txt").symlink_to(docs / "loop.txt")  # a link to itself
    (docs / "dangling.md").symlink_to(docs / "missing.md")
    (docs / "sub" / "up").symlink_to(docs, target_is_directory=True)  # a folder loop
    (docs / "picture.png").symlink_to(outside / "secret.txt")  # not indexable anyway: not reported
    found = _scan(docs)
    assert sorted(d.source for d in found.documents) == ["alias.txt", "real.txt", "sub/inner.txt"]
    assert sorted(found.skipped, key=lambda s: s.source) == [
        Skipped("dangling.md", "broken or looping symbolic link"),
        Skipped("leak.txt", "symbolic link pointing outside the folder (not followed)"),
        Skipped("leakdir", "symbolic link pointing outside the folder (not followed)"),
        Skipped("loop.txt", "broken or looping symbolic link"),
        Skipped("sub/up", "symbolic link to a folder already indexed (not followed twice)"),
    ]
    followed = _scan(docs, follow=True)
    assert sorted(d.source for d in followed.documents) == [
        "alias.txt", "leak.txt", "leakdir/secret.txt", "real.txt", "sub/inner.txt"
    ]


def test_unreadable_file_and_folder_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = write_files(tmp_path, {"locked.txt": "secret\n", "open.txt": "open\n", "closed/x.txt": "x\n"})
    (docs / "locked.txt").chmod(0)
    (docs / "closed").chmod(0)
    try:
        if os.geteuid() == 0:  # root reads anything: make the kernel's refusal happen anyway
            refuse_access(monkeypatch, "locked.txt", "closed")
        found = _scan(docs)
    finally:
        (docs / "locked.txt").chmod(0o644)
        (docs / "closed").chmod(0o755)
    assert [d.source for d in found.documents] == ["open.txt"]
    assert sorted(found.skipped, key=lambda s: s.source) == [
        Skipped("closed", "unreadable folder (Permission denied)"),
        Skipped("locked.txt", "unreadable (permission denied)"),
    ]


def test_file_disappearing_before_it_is_read_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "gone.txt"
    assert read_document(path, "gone.txt", LIMIT) == Skipped("gone.txt", "disappeared while indexing")

"""Which paths the project's own ignore files leave out: ``.gitignore`` and ``.citebotignore``, as git reads them.

A documentation folder carries what its build writes (Sphinx's ``_build/html`` beside the sources, a notebook's
checkpoints, generated API pages) and the project says so in ``.gitignore``: indexed, every page would be there
twice, once as its source and once as built HTML. So the rules git applies are applied here: each ignore file
speaks for its own folder and what is under it, a deeper file overrides a shallower one, ``!pattern`` takes a
path back, and an ignored folder is never walked. ``.citebotignore`` (same syntax, read after ``.gitignore`` in
each folder, so its lines win) leaves out what git keeps but a reader should not see. When the indexed folder
sits inside a git work tree (``repo/docs``), the ignore files of the folders above it, up to the work tree's
top, apply as well: ``repo/.gitignore`` saying ``docs/_build/`` is the usual place for that rule.

pathspec implements the patterns (``GitIgnoreSpec``: git's own edge cases, such as a negated file inside an
ignored folder); what is citebot's is which files are read and in what order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pathspec import GitIgnoreSpec

IGNORE_FILES = (".gitignore", ".citebotignore")  # read in this order in each folder: the later one's lines win
# Folders looked through above the indexed one for the top of a git work tree (a ``.git`` folder or file): deeper
# nesting than this is not a documentation checkout, and the walk stays bounded on any file system.
MAX_PARENTS = 64


@dataclass
class Ignores:
    """The ignore rules found so far, by the folder each applies to (absolute, as walked), in the order read:
    a folder's after those of the folders above it, so the last that applies to a path is the deepest."""

    rules: list[tuple[Path, GitIgnoreSpec]] = field(default_factory=list)

    @classmethod
    def above(cls, root: Path) -> Ignores:
        """The rules of the folders above ``root`` up to the top of its git work tree (none outside one); the
        walk reads each folder's own as it enters it (``read``). A folder indexed on purpose is never left out:
        when those rules ignore ``root`` itself (``repo/site`` where ``.gitignore`` says ``site/``), none apply."""
        found = cls()
        chain = list(root.absolute().parents)[:MAX_PARENTS]
        top = next((i for i, folder in enumerate(chain) if (folder / ".git").exists()), None)
        for folder in reversed(chain[: top + 1] if top is not None else []):
            found.read(folder)
        return cls() if found.ignored(root, is_dir=True) else found

    def read(self, folder: Path) -> None:
        """Take in ``folder``'s ignore files, if any; an unreadable one counts as empty (git skips it too)."""
        folder = folder.absolute()
        lines: list[str] = []
        for name in IGNORE_FILES:
            try:
                lines += (folder / name).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
        if lines:
            self.rules.append((folder, GitIgnoreSpec.from_lines(lines)))

    def ignored(self, path: Path, is_dir: bool) -> bool:
        """Whether ``path`` (under a folder read) is left out: the deepest rule that speaks of it decides."""
        path = path.absolute()
        for folder, spec in reversed(self.rules):
            try:
                rel = path.relative_to(folder).as_posix()
            except ValueError:
                continue
            verdict = spec.check_file(rel + "/" if is_dir else rel).include
            if verdict is not None:
                return verdict
        return False

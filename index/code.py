"""What each line of a source file is: code, or prose about it (comments and docstrings).

Python files are read with ``ast`` (docstrings, and the ``class``/``def`` that encloses each line, which makes
its heading path: ``Client > run``) and ``tokenize`` (comments). Other languages get their whole-line comments
recognised by their comment markers. Code lines are code blocks: one block runs until prose interrupts it or
the enclosing definition changes, so that a passage never shows half a function when the function fits.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Sequence

from .structure import PATH_SEPARATOR, LineInfo

PYTHON_SUFFIXES = (".py", ".pyi")
CODE_SUFFIXES = (".js", ".ts", ".tsx", ".jsx", ".go", ".rs", ".java", ".kt", ".c", ".h", ".cpp", ".hpp", ".cs",
                 ".rb", ".php", ".sh", ".css", ".sql", ".swift", ".scala", ".lua")
# Whole-line comments in the languages above: "#" (shell, Ruby), "//" and "/* */" blocks (C family), "--" (SQL,
# Lua). A "*" continuing a block comment counts too.
_COMMENT = re.compile(r"^\s*(?:#(?!include|define|if|endif|else|pragma|import)|//|/\*|\*(?!\*?\s*\w+\s*=)|--)")


def is_code(source: str) -> bool:
    """Whether a file is read as source code, by its name."""
    return source.lower().endswith(PYTHON_SUFFIXES + CODE_SUFFIXES)


def _python_prose(text: str, n: int) -> tuple[list[bool], list[str]]:
    """Which 0-based lines are docstrings or whole-line comments, and each line's enclosing definitions."""
    prose = [False] * n
    scope = [""] * n
    tree = ast.parse(text)
    definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

    def visit(node: ast.AST, path: list[str]) -> None:
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(node, (*definitions, ast.Module)):
            first = body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                for k in range(first.lineno - 1, min(first.end_lineno or first.lineno, n)):
                    prose[k] = True
        for child in ast.iter_child_nodes(node):
            if isinstance(child, definitions):
                inner = [*path, child.name]
                start = min([d.lineno for d in child.decorator_list] + [child.lineno]) - 1
                for k in range(start, min(child.end_lineno or child.lineno, n)):
                    scope[k] = PATH_SEPARATOR.join(inner)
                visit(child, inner)
            else:
                visit(child, path)

    visit(tree, [])
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT and not token.line[: token.start[1]].strip():
            prose[token.start[0] - 1] = True
    return prose, scope


def code_structure(source: str, lines: Sequence[str]) -> list[LineInfo]:
    """Per-line structure of a source file given as its lines (``lines[i]`` is line ``i + 1``)."""
    n = len(lines)
    prose, scope = [False] * n, [""] * n
    if source.lower().endswith(PYTHON_SUFFIXES):
        try:
            prose, scope = _python_prose("\n".join(line.replace("\r", " ") for line in lines) + "\n", n)
        except (SyntaxError, ValueError, tokenize.TokenError):
            prose = [bool(re.match(r"^\s*#", line)) for line in lines]  # Python 2, a fragment: comments only
    else:
        prose = [bool(_COMMENT.match(line)) for line in lines]
    code_block: list[int | None] = [None] * n
    blocks, open_block, last_scope = 0, False, None
    for k, line in enumerate(lines):
        if not line.strip():
            continue  # a blank line neither opens nor closes a block (the chunker keeps a block's lines together)
        if prose[k]:
            open_block = False
            continue
        if not open_block or scope[k] != last_scope:
            blocks += 1
            open_block, last_scope = True, scope[k]
        code_block[k] = blocks - 1
    return [LineInfo(scope[k], False, code_block[k]) for k in range(n)]

"""PD001: a file that cannot be read or parsed is checked by no rule, so it is a
finding itself (as ruff's invalid-syntax): CI does not pass it silently.

Reading follows Python's own rules (PEP 263): a ``# -*- coding: latin-1 -*-``
line or a UTF-8 BOM says how the bytes are decoded, UTF-8 otherwise.
"""

from __future__ import annotations

import ast
import io
import tokenize
from typing import Any

from perfdoctor.lint.base import LintFinding, rule
from perfdoctor.lint.context import Context

CODE = "PD001"


@rule(
    CODE,
    "unparsable-file",
    "A file that cannot be read or parsed is checked by no rule.",
    nodes=(),
    triggers=(),
    level="error",
)
def check(node: Any, ctx: Context) -> None:
    """Never called (no node, no trigger): :func:`parse` reports PD001 itself."""


class Unparsable(Exception):
    """Why a file cannot be linted, and where (1-based line and column)."""

    def __init__(self, why: str, line: int = 1, col: int = 1) -> None:
        super().__init__(why)
        self.why = why
        self.line = max(line, 1)
        self.col = max(col, 1)

    def finding(self, path: str) -> LintFinding:
        message = f"cannot parse: {self.why}; no rule checked this file"
        fix = "make the file valid Python, or ignore PD001 for it in [tool.perfdoctor.lint]"
        return LintFinding(CODE, message, path, self.line, self.col, fix=fix)


def decode(data: bytes) -> str:
    """The source text, decoded as Python itself would (PEP 263, BOM)."""
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _position(data, nul)
        raise Unparsable("a null byte in the source", line, col)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # an unknown encoding, or a BOM that contradicts the cookie
        raise Unparsable(str(exc), _cookie_line(data)) from exc
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line, col = _position(data, exc.start)
        raise Unparsable(f"bytes that are not {encoding}: {exc.reason}", line, col) from exc


def parse(data: bytes, path: str) -> tuple[str, ast.Module]:
    """The decoded source and its tree, or :class:`Unparsable`."""
    source = decode(data)
    try:
        return source, ast.parse(source, filename=path)
    except SyntaxError as exc:
        raise Unparsable(
            f"{type(exc).__name__}: {exc.msg}", exc.lineno or 1, exc.offset or 1
        ) from exc
    except (RecursionError, MemoryError) as exc:
        raise Unparsable(f"nested too deeply for Python's parser ({type(exc).__name__})") from exc


def _position(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _cookie_line(data: bytes) -> int:
    first = data.split(b"\n", 2)[:2]
    return 2 if len(first) == 2 and b"coding" in first[1] and b"coding" not in first[0] else 1

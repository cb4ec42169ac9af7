"""Find the loop in the user's code that a repeated call site sits in."""

from __future__ import annotations

import ast
from functools import lru_cache

from perfdoctor.model import Location

_LOOPS = (
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


@lru_cache(maxsize=256)
def _tree(path: str) -> ast.Module | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return ast.parse(handle.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return None


def enclosing_loop(location: Location) -> Location | None:
    """The innermost loop around ``location``'s line, or None."""
    tree = _tree(location.path)
    if tree is None:
        return None
    best: ast.AST | None = None
    for node in ast.walk(tree):
        if not isinstance(node, _LOOPS):
            continue
        start, end = node.lineno, getattr(node, "end_lineno", node.lineno) or node.lineno
        if start <= location.line <= end and (
            best is None or start >= best.lineno  # type: ignore[attr-defined]
        ):
            best = node
    if best is None:
        return None
    return Location(location.path, best.lineno, location.function)  # type: ignore[attr-defined]


def loop_for_stack(stack: list[Location]) -> Location | None:
    """The first user frame (innermost first) that runs inside a loop."""
    for frame in stack:
        found = enclosing_loop(frame)
        if found is not None:
            return found
    return None

"""Find the loop in the user's code that a repeated call site sits in."""

from __future__ import annotations

import ast
from functools import lru_cache

from perfdoctor.model import Location

_STATEMENT_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@lru_cache(maxsize=256)
def _tree(path: str) -> ast.Module | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return ast.parse(handle.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return None


def _lines(node: ast.AST) -> tuple[int, int]:
    start = getattr(node, "lineno", 0)
    return start, getattr(node, "end_lineno", start) or start


def _repeats_line(node: ast.AST, line: int) -> bool | None:
    """True if ``line`` runs once per iteration of ``node``; False if it surely does
    not; None if only the line numbers cannot tell (header and body share a line).

    A for-loop's iterable and a comprehension's first iterable run once, before
    the loop: ``for a in articles.all():`` is not the loop of its own query.
    """
    start, end = _lines(node)
    if not start <= line <= end:
        return False
    if isinstance(node, _STATEMENT_LOOPS):
        body_start = node.body[0].lineno
        if line >= body_start and line > start:
            return True
        header = node.iter if isinstance(node, (ast.For, ast.AsyncFor)) else node.test
        header_end = _lines(header)[1]
        if line <= header_end and body_start > header_end:
            return isinstance(node, ast.While)  # a while test runs every iteration
        return None
    assert isinstance(node, _COMPREHENSIONS)
    first_iter = node.generators[0].iter
    iter_start, iter_end = _lines(first_iter)
    if iter_start <= line <= iter_end and not (start <= line < iter_start or line > iter_end):
        return None if iter_start == start else False
    return True


def enclosing_loop(location: Location) -> Location | None:
    """The innermost loop whose iterations run ``location``'s line, or None.

    When only a one-line loop matches ambiguously (``[t.name for t in a.tags.all()]``),
    an enclosing loop that surely repeats the line wins; failing that, the one-liner.
    """
    start = _loop_start(location.path, location.line)
    if start is None:
        return None
    return Location(location.path, start, location.function)


# Asked for every repeated call site of every request (an N+1 of each list
# request): the file's tree is walked once per line, not once per request
# (a real store of 20k requests spent 5 of its 6 CPU seconds in that walk).
@lru_cache(maxsize=4096)
def _loop_start(path: str, line: int) -> int | None:
    tree = _tree(path)
    if tree is None:
        return None
    sure: ast.AST | None = None
    maybe: ast.AST | None = None
    for node in ast.walk(tree):
        if not isinstance(node, _STATEMENT_LOOPS + _COMPREHENSIONS):
            continue
        verdict = _repeats_line(node, line)
        if verdict is True and (sure is None or _lines(node)[0] >= _lines(sure)[0]):
            sure = node
        elif verdict is None and (maybe is None or _lines(node)[0] >= _lines(maybe)[0]):
            maybe = node
    best = sure or maybe
    return None if best is None else _lines(best)[0]


def loop_for_stack(stack: list[Location]) -> Location | None:
    """The first user frame (innermost first) that runs inside a loop."""
    for frame in stack:
        found = enclosing_loop(frame)
        if found is not None:
            return found
    return None

"""Endpoint and test names cut to one terminal line.

A name too long for its column is shortened in the middle with "…": the method
and the end of the route or test name stay, since that is what tells two rows
apart (``GET /database/authors/{author_id}/dashboard`` and its ``/fixed`` twin
differ only at the end).  JSON, HTML and Markdown keep the full names.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

ELLIPSIS = "…"
# A name is never cut shorter than this, even if the table then overflows.
MIN_ROOM = 12
# Where a route or test name may be cut so the kept part reads as whole pieces.
_BOUNDARY = re.compile(r"(?=/)|(?=::)")
_METHOD = re.compile(r"^[A-Z]{3,7} ")


def shorten_all(names: list[str], room: int) -> list[str]:
    """Each name in at most ``room`` characters, and names that differ still differ:
    two that would read the same keep their first piece too ("/database/…" and
    "/external/…"), or failing that are cut anywhere, which keeps the most of each."""
    short = [shorten(name, room) for name in names]
    for how in ({"keep_head": True}, {"anywhere": True}):
        seen = Counter(short)
        short = [
            shorten(name, room, **how) if seen[text] > 1 else text
            for name, text in zip(names, short)
        ]
    seen = Counter(short)
    if max(seen.values(), default=0) > 1:
        # Names alike at both ends (two objects' ids in one route: /checks/<uuid>/details/)
        # are told apart by where they differ.
        short = [
            _around_difference(name, names, room) if seen[text] > 1 else text
            for name, text in zip(names, short)
        ]
    return short


def _around_difference(name: str, names: list[str], room: int) -> str:
    """``name`` cut to the stretch where it first differs from every other name."""
    method_match = _METHOD.match(name)
    method = method_match.group(0) if method_match else ""
    rest = name[len(method) :]
    budget = room - len(method) - 2 * len(ELLIPSIS)
    if budget < 4:
        return shorten(name, room, anywhere=True)
    # The first character that sets it apart from the name most like it.
    differs = max(
        (
            # Character by character is what is wanted: where two names part.
            len(os.path.commonprefix((rest, other[len(method) :])))  # noqa: RUF071
            for other in names
            if other != name
        ),
        default=0,
    )
    # From the piece's boundary before it (a whole id reads better), when it fits.
    start = rest.rfind("/", 0, differs + 1)
    if start < 0 or differs - start >= budget:
        start = max(0, differs - 1)
    if start + budget >= len(rest):
        return method + ELLIPSIS + rest[-(budget + len(ELLIPSIS)) :]
    head = ELLIPSIS if start > 0 else ""
    return method + head + rest[start : start + budget + (len(ELLIPSIS) - len(head))] + ELLIPSIS


def shorten(name: str, room: int, keep_head: bool = False, anywhere: bool = False) -> str:
    """``name`` in at most ``room`` characters, cut in the middle when it must be:
    the method, then the longest end that starts at a "/" or "::", then as much of
    the start as fits.  ``keep_head``: the first piece of the path whatever the end
    loses; ``anywhere``: the end cut at any character, not at a boundary."""
    if len(name) <= room:
        return name
    if room <= 1:
        return ELLIPSIS[:room]
    method_match = _METHOD.match(name)
    method = method_match.group(0) if method_match else ""
    rest = name[len(method) :]
    budget = room - len(method) - len(ELLIPSIS)
    if budget < 4:
        # Not even the method and a little of the end fit: the end alone.
        return ELLIPSIS + name[-(room - 1) :]
    cuts = [m.start() for m in _BOUNDARY.finditer(rest) if m.start() > 0]
    heads = [rest[: cut + (2 if rest.startswith("::", cut) else 1)] for cut in cuts]
    first = heads[0] if keep_head and heads and len(heads[0]) < budget - 4 else ""
    tails = [rest[cut:] for cut in cuts if len(rest) - cut <= budget - len(first)]
    # A tail much shorter than the room ("/fixed" of many routes) would leave rows
    # that read the same: the last characters then, cut anywhere.  With the first
    # piece kept, the names differ there already.
    long_enough = bool(first) or 3 * len(tails[0] if tails else "") >= 2 * budget
    if tails and long_enough and not anywhere:
        tail = tails[0]
        # The room is shorter than the name: a head that fits never overlaps the tail.
        fitting = [h for h in heads if len(h) <= budget - len(tail)]
        return method + (fitting[-1] if fitting else "") + ELLIPSIS + tail
    end = rest[-(budget - len(first)) :]
    if end.startswith(":") and not end.startswith("::"):
        end = end[1:]  # half of a "::" reads as a typo
    return method + first + ELLIPSIS + end


_PROBE = 200  # wider than any column a name shares a table with


def name_room(build: Callable[[list[str]], Table], count: int, console: Console) -> int:
    """The characters a name column of ``count`` rows gets on ``console``: the table
    is measured (rich's own measure, unbounded) with names longer than anything
    else in their column, so what the other columns take is known exactly."""
    options = console.options.update_width(console.width + 2 * _PROBE)
    probe = console.measure(build(["x" * _PROBE] * count), options=options).maximum
    return console.width - (probe - _PROBE)

"""The live lines as text: aligned columns, one terminal line each, coloured on a terminal.

On a terminal no line wraps: when the findings do not fit, the others become
"+2 more", a call site keeps its file name, then the route is shortened in the
middle with "…".  Written elsewhere (``--live`` into a file), lines are whole.
Colour comes from rich, which honours ``NO_COLOR`` and ``TERM=dumb``; should rich
fail, the same text goes out plain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from perfdoctor.live.limiter import Event, Overflow, Repeat
from perfdoctor.live.line import Mark, RequestLine

Piece = tuple[str, str]  # text, rich style ("" for none)

# A shorter route column would hide which endpoint a line is.
MIN_ROUTE = 16
# The route column starts this wide (most routes fit: lines align from the first
# one) and grows to the longest route seen, up to a share of the terminal's width.
FIRST_ROUTE = 32
ROUTE_STEP = 8
ROUTE_SHARE = 0.3
METHOD_WIDTH = 6  # DELETE
# Narrower than this, "44 queries" is "44 q": at 80 columns the call site needs the room.
WIDE = 100
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _status_style(status: int | None) -> str:
    if status is None or status >= 500:
        return "bold red"
    if status >= 400:
        return "yellow"
    if status >= 300:
        return "cyan"
    return "green"


def middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, cut in the middle with "…"."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = width // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


def _queries(n: int, width: int | None) -> str:
    if width is not None and width < WIDE:
        return f"{n:>3} q"
    return f"{n:>3} {'query' if n == 1 else 'queries'}".ljust(11)


def _site(site: str, short: bool) -> str:
    if not short or "/" not in site:
        return site
    return "…/" + site.rsplit("/", 1)[1]


def _mark_variants(marks: Sequence[Mark]) -> list[list[Piece]]:
    """The findings' pieces, from the fullest to the shortest; the first
    :data:`_WITH_SITE` of them keep the first finding's call site whole."""
    if not marks:
        return [[]]

    def one(m: Mark, short: bool | None) -> list[Piece]:
        pieces: list[Piece] = [(m.label, _SEVERITY_STYLE.get(m.severity, ""))]
        if short is not None and m.site:
            pieces.append((" " + _site(m.site, short), ""))
        return pieces

    first, rest = marks[0], marks[1:]
    everything: list[Piece] = []
    for n, m in enumerate(marks):
        if n:
            everything.append(("  ", ""))
        everything.extend(one(m, False))
    more: list[Piece] = [(f"  +{len(rest)} more", "dim")] if rest else []
    brief: list[Piece] = [(f" +{len(rest)}", "dim")] if rest else []
    return [
        everything,
        one(first, False) + more,
        one(first, False) + brief,
        one(first, True) + brief,
        one(first, None) + brief,
    ]


_WITH_SITE = 3


def _length(pieces: Sequence[Piece]) -> int:
    return sum(len(text) for text, _ in pieces)


def _cut(pieces: list[Piece], width: int) -> list[Piece]:
    """``pieces`` in ``width`` characters, the end cut with "…"."""
    if _length(pieces) <= width:
        return pieces
    out: list[Piece] = []
    left = width - 1
    for text, style in pieces:
        if len(text) > left:
            if left > 0:
                out.append((text[:left], style))
            break
        out.append((text, style))
        left -= len(text)
    out.append(("…", "dim"))
    return out


class Layout:
    """Lays out events as pieces; remembers the route column's width."""

    def __init__(self, slow_ms: float) -> None:
        self.slow_ms = slow_ms
        self.route_width = FIRST_ROUTE

    def pieces(self, event: Event, width: int | None) -> list[Piece]:
        if isinstance(event, Overflow):
            return self._overflow(event, width)
        line = event.line if isinstance(event, Repeat) else event
        if len(line.route) > self.route_width:
            # In steps: a column that moves at every longer route moves often.
            self.route_width = -(-len(line.route) // ROUTE_STEP) * ROUTE_STEP
        if isinstance(event, Repeat):
            tail: list[Piece] = [
                (
                    f"  … ×{event.count} more like this in {event.seconds:.0f} s, "
                    f"median {event.median_ms:.0f} ms",
                    "dim",
                )
            ]
            return self._fit(line, [tail], width, head_only=True)
        return self._fit(line, _mark_variants(line.marks), width, head_only=False)

    def _fit(
        self, line: RequestLine, variants: list[list[Piece]], width: int | None, head_only: bool
    ) -> list[Piece]:
        status = str(line.status) if line.status is not None else "---"
        ms_style = "yellow" if line.ms >= self.slow_ms else "dim"
        before: list[Piece] = [(line.method.ljust(METHOD_WIDTH) + " ", "bold")]
        after: list[Piece] = [(" " + status, _status_style(line.status))]
        if not head_only:
            after += [
                (f" {line.ms:>5.0f} ms", ms_style),
                ("  " + _queries(line.queries, width), "" if line.marks else "dim"),
            ]
        route_width = self.route_width
        marks = variants[0]
        if width is not None:
            route_width = min(route_width, max(MIN_ROUTE, int(width * ROUTE_SHARE)))
            route_width, marks = _choose(
                variants, width - _length(before) - _length(after), route_width, head_only
            )
        route = middle(line.route, route_width).ljust(route_width)
        pieces = [*before, (route, ""), *after]
        if marks:
            pieces += ([("  ", "")] if not head_only else []) + marks
        if width is not None and _length(pieces) > width:
            pieces = _cut(pieces, width)
        return _trimmed(pieces)

    def _overflow(self, event: Overflow, width: int | None) -> list[Piece]:
        top = ", ".join(f"{name} ×{n}" for name, n in event.endpoints.most_common())
        noun = "request" if event.count == 1 else "requests"
        pieces: list[Piece] = [(f"… {event.count} more {noun}: {top}", "dim")]
        if width is not None and _length(pieces) > width:
            pieces = _cut(pieces, width)
        return pieces


def _choose(
    variants: list[list[Piece]], room: int, route_width: int, head_only: bool
) -> tuple[int, list[Piece]]:
    """The route column's width and the fullest findings that fit in ``room``:
    the aligned column if any variant allows it, else a narrower route."""

    def left(marks: list[Piece]) -> int:
        return room - _length(marks) - (2 if marks and not head_only else 0)

    # The call site matters more than the column's alignment, which matters
    # more than the findings after the first.
    for marks in variants[:_WITH_SITE]:
        if left(marks) >= route_width:
            return route_width, marks
    for marks in variants:
        if left(marks) >= MIN_ROUTE:
            return min(route_width, left(marks)), marks
    return MIN_ROUTE, variants[-1]


def _trimmed(pieces: list[Piece]) -> list[Piece]:
    """No trailing blanks (a padded column at the end of a line)."""
    while pieces and not pieces[-1][0].strip():
        pieces.pop()
    if pieces:
        text, style = pieces[-1]
        pieces[-1] = (text.rstrip(), style)
    return pieces


class Writer:
    """Writes events to ``stream``: through rich when it can, else plain text."""

    def __init__(self, stream: TextIO, slow_ms: float) -> None:
        self.stream = stream
        self.layout = Layout(slow_ms)
        self._console: Any = None
        try:
            from rich.console import Console

            self._console = Console(
                file=stream, highlight=False, markup=False, emoji=False, soft_wrap=True
            )
        except Exception:
            self._console = None

    def width(self) -> int | None:
        """The terminal's width less one column (a line that fills the last
        column wraps on some terminals); None when not writing to a terminal."""
        console = self._console
        if console is not None and console.is_terminal:
            return max(40, int(console.width) - 1)
        return None

    def write(self, event: Event) -> None:
        pieces = self.layout.pieces(event, self.width())
        console = self._console
        if console is not None:
            try:
                from rich.text import Text

                console.print(Text.assemble(*pieces), soft_wrap=True)
                return
            except Exception:
                self._console = None
        try:
            self.stream.write("".join(text for text, _ in pieces) + "\n")
            self.stream.flush()
        except Exception:
            pass

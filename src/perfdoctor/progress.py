"""Progress on stderr while a command works: a bar with a count, or a spinner.

One look for every command that can take more than a couple of seconds (bench,
import otlp, indexes, explain, report, compare, audit).  Live progress is drawn
only when stderr is a terminal and the output is not for a machine (``--format
json``): a pipe, a CI log or a JSON consumer gets nothing from it.  rich is
imported only when something is drawn.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Callable, TypeVar

T = TypeVar("T")

_BAR = 20  # characters of the bar itself
_STEP = 44  # at most, for the name of the step being done
# Redraws per second: each takes the GIL from the work it shows (rich's default is
# 10; at 5 the bar still moves smoothly for a person, and costs half).
_REFRESH = 5
# Formats read by programs: progress there would only be noise around the result.
MACHINE_FORMATS = frozenset({"json", "sarif"})


class Advance:
    """Moves a bar on: ``advance()`` one step, ``advance(n)``, ``advance(step="GET /x")``
    to say what is being done, ``advance.to(completed)`` for a position (bytes read)."""

    def __init__(self, update: Callable[..., None] | None = None) -> None:
        self._update = update

    def __call__(self, n: int = 1, step: str | None = None) -> None:
        if self._update is not None:
            self._update(advance=n, step=step)

    def to(self, completed: float) -> None:
        if self._update is not None:
            self._update(completed=completed)


class Feedback:
    """What a command shows while it works.

    ``live``: bars and spinners (stderr is a terminal, output not for a machine).
    ``notes``: the one-line "✓ done" notes of a multi-stage command (``audit``), kept
    in a log too, but not around machine output.
    """

    def __init__(self, live: bool = False, notes: bool = False) -> None:
        self.live = live
        self.notes = notes
        self._console: Any = None

    @classmethod
    def for_format(cls, fmt: str = "text", notes: bool = False) -> Feedback:
        machine = fmt in MACHINE_FORMATS
        return cls(live=not machine and stderr_is_terminal(), notes=notes and not machine)

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)
        return self._console

    def done(self, message: str) -> None:
        if self.notes:
            from rich.text import Text

            # A Text, not markup: a path or a name in brackets stays as it is.
            self.console.print(Text.assemble(("✓", "green"), " ", message))

    @contextmanager
    def working(self, message: str) -> Iterator[Callable[[str], None]]:
        """A spinner with ``message``; yields a function that shows a sub-step."""
        if not self.live:
            yield lambda _step: None
            return
        with self.console.status(message, refresh_per_second=_REFRESH) as status:
            yield lambda step: status.update(f"{message}: {step}")

    @contextmanager
    def counting(
        self, description: str, total: float | None, unit: str = "", steps: str = ""
    ) -> Iterator[Advance]:
        """A bar over ``total`` steps (``unit="bytes"``: sizes, not counts); the bar
        goes when the block ends.  A total of None: a count without a bar's end.
        ``steps``: what the description becomes, followed by the step's name, once
        ``advance(step=...)`` names one ("Requesting GET /articles")."""
        if not self.live:
            yield Advance()
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        count = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
        columns = (
            TextColumn("{task.description}"),
            BarColumn(bar_width=_BAR),
            count,
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        # What the columns after the description take: the bar, "123/456" or
        # "12.3/45.6 MB", two times of 7 characters, a space between each.
        after = _BAR + (15 if unit == "bytes" else 2 * len(str(int(total or 0))) + 1) + 14 + 4
        # Padded to one width (at most _STEP), so the bar does not move from step to step.
        room = min(_STEP, max(12, self.console.width - len(steps) - 1 - after))
        with Progress(
            *columns, console=self.console, transient=True, refresh_per_second=_REFRESH
        ) as bar:
            task = bar.add_task(description, total=total)

            def update(
                advance: float = 0, completed: float | None = None, step: str | None = None
            ) -> None:
                if completed is not None:
                    bar.update(task, completed=completed)
                    return
                shown = description
                if step is not None:
                    from perfdoctor.report.names import shorten

                    shown = f"{steps or description} {shorten(step, room):<{room}}"
                bar.update(task, advance=advance, description=shown)

            yield Advance(update)

    def iterate(self, items: Iterable[T], description: str, total: int | None) -> Iterator[T]:
        """``items``, one step of a bar each."""
        with self.counting(description, total) as advance:
            for item in items:
                yield item
                advance()


SILENT = Feedback()


def stderr_is_terminal() -> bool:
    """stderr is a terminal a person watches: not a pipe, a file or a CI log (rich
    would take FORCE_COLOR or TTY_COMPATIBLE for a terminal; a log is not one)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False

"""What ``perfdoctor audit`` ends with: three ways to run perfdoctor on the user's own app."""

from __future__ import annotations

from typing import TextIO

# (command, what it gives): each description fits an 80-column line under its command.
NEXT_STEPS = (
    (
        "perfdoctor run -- <your server command>",
        "captures every request while you use your app; then: perfdoctor report",
    ),
    (
        "pytest --perfdoctor",
        "each test a trace: N+1s and slow queries in what your tests already run",
    ),
    (
        "perfdoctor lint .",
        "N+1 loops, unbounded queries, HTTP calls with no timeout: from the source",
    ),
)


def render_next_steps(stream: TextIO) -> None:
    from rich.console import Console
    from rich.text import Text

    tty = hasattr(stream, "isatty") and stream.isatty()
    console = Console(file=stream, width=None if tty else 120, highlight=False)
    console.print()
    console.print(Text("Next: perfdoctor on your own app", style="bold"))
    for command, gives in NEXT_STEPS:
        console.print(Text("  ") + Text(command, style="bold cyan"))
        console.print(Text(f"      {gives}", style="dim"))

"""The terminal view of ``perfdoctor compare``: one row per endpoint, then the rest."""

from __future__ import annotations

from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from perfdoctor.bench.bootstrap import Change
from perfdoctor.bench.compare import Comparison, EndpointChange
from perfdoctor.bench.verdict import (
    CANNOT_TELL,
    FASTER,
    METHOD_TEXT,
    SLOWER,
    TOO_FEW,
    Latency,
)
from perfdoctor.report.names import MIN_ROOM, name_room, shorten_all

_VERDICT_STYLE = {
    FASTER: "bold green",
    SLOWER: "bold red",
    TOO_FEW: "yellow",
    CANNOT_TELL: "yellow",
}
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def render_text(result: Comparison, stream: TextIO) -> None:
    tty = hasattr(stream, "isatty") and stream.isatty()
    console = Console(file=stream, width=None if tty else 100, highlight=False, soft_wrap=False)
    if result.endpoints:
        pct = f"{result.confidence * 100:g}%"
        console.print(
            f"method: {METHOD_TEXT.get(result.method, result.method)}; {pct} intervals "
            f"(p95: per-request bootstrap, {result.resamples} resamples, seed {result.seed})"
        )
        machine = _machine_line(result.machine)
        if machine:
            console.print(machine)
        table, dropped = _table(result, console)
        console.print(table)
        if dropped:
            left_out = " and ".join(_DROPPED_NAMES[c] for c in dropped)
            console.print(
                Text(
                    f"({left_out} left out to fit {console.width} columns: "
                    "a wider terminal or --format json show them)",
                    style="dim",
                )
            )
        for change in result.endpoints:
            if change.latency is not None and change.verdict not in (FASTER, SLOWER):
                console.print(Text(f"{change.name}: ", style="bold") + change.latency.sentence())
    else:
        console.print(
            "No endpoint is in both files: nothing to compare. To compare differently named "
            "ones, pass --pair 'BEFORE NAME=AFTER NAME'."
        )
    for label, names in (
        ("only in before", result.only_before),
        ("only in after", result.only_after),
    ):
        if names:
            console.print(Text(f"{label}: ", style="bold") + Text(", ".join(names)))
    for label, findings, mark in (
        ("findings that appeared", result.appeared, "+"),
        ("findings that disappeared", result.disappeared, "-"),
    ):
        if findings:
            console.print(Text(f"{label}:", style="bold"))
            for finding in findings:
                # One line each, cut at the edge: the JSON output has them whole.
                for line in _finding_lines(mark, finding):
                    console.print(line, no_wrap=True, overflow="ellipsis")
    regressions = result.regressions
    if regressions:
        console.print(Text("regression: " + "; ".join(regressions), style="bold red"))
    else:
        console.print(Text("no regression", style="green"))


# Below this many characters for the names (the verdict under them needs 20),
# the p95 column, then the queries column, are left out (the JSON has them).
_NAME_MIN = 24
_DROPPABLE = ("p95", "queries")
_DROPPED_NAMES = {"p95": "p95", "queries": "queries per request"}


def _table(result: Comparison, console: Console) -> tuple[Table, list[str]]:
    """The table for ``console``'s width, and the columns left out to fit it."""
    changes = result.endpoints
    dropped: list[str] = []

    def build(names: list[str]) -> Table:
        return _build(result, list(zip(changes, names)), dropped)

    room = name_room(build, len(changes), console)
    for column in _DROPPABLE:
        if room >= _NAME_MIN:
            break
        dropped.append(column)
        room = name_room(build, len(changes), console)
    # A pair's after name goes under its before name, in the same room.
    room = max(room, MIN_ROOM)
    names = shorten_all([c.name for c in changes], room)
    after = shorten_all([c.after_name or "" for c in changes], room - 2)
    shown = [f"{n}\n→ {a}" if _paired(c) else n for n, a, c in zip(names, after, changes)]
    return build(shown), dropped


def _paired(change: EndpointChange) -> bool:
    return change.after_name not in (None, change.name)


def _build(result: Comparison, rows: list[tuple[EndpointChange, str]], dropped: list[str]) -> Table:
    pct = f"{result.confidence * 100:g}%"
    table = Table(
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        show_edge=False,
        pad_edge=False,
    )
    # The verdict goes under the name: a column of its own would not fit 100 columns.
    # A long name is cut in the middle, never folded.
    table.add_column("endpoint\nverdict", no_wrap=True, min_width=20)
    table.add_column("median\nms", justify="right", no_wrap=True)
    table.add_column(f"change\n{pct} interval", justify="right", no_wrap=True)
    table.add_column("noise\ndetects", justify="right", no_wrap=True)
    if "p95" not in dropped:
        table.add_column("p95 ms\nwithin-run", justify="right", no_wrap=True)
    # Memory, when measured, goes under the queries: one more column would not fit.
    memory = any(c.memory_kb != (None, None) for c in result.endpoints)
    if "queries" not in dropped:
        queries = "queries/req\nmemory" if memory else "queries\nper req"
        table.add_column(queries, justify="right", no_wrap=True)
    for change, name in rows:
        cells: list[Text | str] = [
            Text(name + "\n")
            + Text(change.verdict, style=_VERDICT_STYLE.get(change.verdict, ""))
            + (
                Text(f"\nerrors {change.errors[0]} → {change.errors[1]}", style="bold red")
                if any(change.errors)
                else Text()
            ),
            _before_after(change.median),
            _change(change.latency),
            _noise(change.latency),
        ]
        if "p95" not in dropped:
            cells.append(_before_after(change.p95) + "\n" + _interval(change.p95, short=True))
        if "queries" not in dropped:
            cells.append(_queries(change) + (f"\n{_memory(change)}" if memory else ""))
        table.add_row(*cells)
    return table


def _machine_line(machine: dict[str, Any]) -> str:
    parts = []
    for side in ("before", "after"):
        facts = machine.get(side) or {}
        pressure, load = facts.get("cpu_pressure_pct"), facts.get("load1")
        bits = []
        if facts.get("other_cpu_pct") is not None:
            bits.append(f"other processes {facts['other_cpu_pct']:.0f}% of CPU time")
        if pressure is not None:
            bits.append(f"CPU pressure {pressure:.0f}%")
        if load is not None:
            bits.append(
                f"load {load:.1f}" + (f" on {facts['cpus']} CPUs" if facts.get("cpus") else "")
            )
        if bits:
            parts.append(f"{side}: " + ", ".join(bits))
    return "machine: " + "; ".join(parts) if parts else ""


def _change(latency: Latency | None) -> str:
    if latency is None:
        return "-"
    low, high = (latency.ratio_low - 1) * 100, (latency.ratio_high - 1) * 100
    return f"{latency.pct:+.1f}%\n[{low:+.0f}%, {high:+.0f}%]"


def _noise(latency: Latency | None) -> str:
    if latency is None:
        return "-"
    return f"±{latency.noise_pct:.0f}%\n≥{latency.mdc_pct:.0f}%"


def _queries(change: EndpointChange) -> str:
    counter = change.counter("queries")
    if counter is None:
        return _numbers(*change.queries, "{:.3g}")
    text = _numbers(counter.before, counter.after, "{:g}")
    if counter.changed and counter.exact:
        return text + ("\nvaries" if counter.varies else "\nexact")
    return text


def _before_after(change: Change | None) -> str:
    if change is None:
        return "-"
    return f"{_ms(change.before)} → {_ms(change.after)}"


def _interval(change: Change | None, short: bool = False) -> str:
    if change is None:
        return "-"
    pct = "" if change.pct is None else f" ({change.pct:+.{1 if abs(change.pct) < 10 else 0}f}%)"
    head = f"{_signed(change.diff)}{pct}"
    interval = f"[{_signed(change.diff_low)}, {_signed(change.diff_high)}]"
    return f"{interval}" if short else f"{head}\n{interval}"


def _numbers(before: float | None, after: float | None, fmt: str) -> str:
    def one(value: float | None) -> str:
        return "-" if value is None else fmt.format(value)

    return f"{one(before)} → {one(after)}"


def _memory(change: EndpointChange) -> str:
    before, after = change.memory_kb
    if before is None and after is None:
        return "-"
    biggest = max(v for v in (before, after) if v is not None)
    if biggest >= 1024:
        scaled = [None if v is None else v / 1024 for v in (before, after)]
        return _numbers(scaled[0], scaled[1], "{:.1f}") + " MB"
    return _numbers(before, after, "{:.0f}") + " KB"


def _ms(value: float, sign: str = "") -> str:
    digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
    return f"{value:{sign}.{digits}f}"


def _signed(value: float) -> str:
    return _ms(value, "+")


def _finding_lines(mark: str, finding: dict[str, Any]) -> list[Text]:
    severity = str(finding.get("severity", ""))
    location = finding.get("location") or {}
    where = ""
    if isinstance(location, dict) and location.get("path"):
        where = f"  {location['path']}:{location.get('line', '?')}"
    line = Text(f"  {mark} ")
    line.append(severity.upper(), style=_SEVERITY_STYLE.get(severity, ""))
    line.append(f"  {finding.get('id')}  {finding.get('endpoint', '')}{where}")
    title = finding.get("title")
    return [line, Text(f"      {title}", style="dim")] if title else [line]

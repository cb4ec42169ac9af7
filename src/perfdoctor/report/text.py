"""The terminal report: an endpoint table, then findings ranked by severity and cost."""

from __future__ import annotations

import re
from typing import Any, TextIO

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from perfdoctor.analyze import Analysis
from perfdoctor.model import Finding
from perfdoctor.report.evidence import evidence_numbers, evidence_texts
from perfdoctor.sampling import note as sampling_note

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _console(stream: TextIO) -> Console:
    tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(file=stream, width=None if tty else 120, highlight=False, soft_wrap=False)


# What the ten number columns take, with their padding: the endpoint gets the rest.
_NUMBER_COLUMNS_WIDTH = 78


def _endpoint_name(name: str, width: int | None) -> Text:
    """The name in lines of the column's width, cut before a "/" where it can be
    (rich alone would break after "GET", or in the middle of a path segment)."""
    if width is None:
        return Text(name)
    room = max(16, width - _NUMBER_COLUMNS_WIDTH)
    lines: list[str] = []
    line = ""
    for part in re.split(r"(?=/)", name):
        if line and len(line) + len(part) > room:
            lines.append(line)
            line = ""
        line += part
        while len(line) > room:
            lines.append(line[:room])
            line = line[room:]
    lines.append(line)
    return Text("\n".join(lines), no_wrap=True, overflow="fold")


def _endpoint_table(analysis: Analysis, width: int | None = None) -> Table:
    # No vertical rules, numbers of at most five characters: eleven columns fit
    # in a 100-column terminal with room for the endpoint's name.
    table = Table(
        title="Endpoints, slowest p95 first (ms; db, http, cache, python: mean per request)",
        title_justify="left",
        expand=False,
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        show_edge=False,
        pad_edge=False,
    )
    table.add_column("endpoint", overflow="fold", min_width=16)
    for name in ("reqs", "p50", "p95", "p99", "q/req", "db", "http", "cache", "python"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("findings", justify="right", no_wrap=True)
    counts = analysis.findings_per_endpoint()
    for e in analysis.endpoints:
        n = counts.get(e.name, 0)
        table.add_row(
            _endpoint_name(e.name, width),
            str(e.requests),
            _ms(e.p50_ms),
            _ms(e.p95_ms),
            _ms(e.p99_ms),
            f"{e.queries_per_request:.1f}",
            _ms(e.db_ms),
            _ms(e.http_ms),
            _ms(e.cache_ms),
            _ms(e.python_ms),
            Text(str(n), style="bold red" if n else "green"),
        )
    return table


def _ms(value: float) -> str:
    """Milliseconds in at most five characters: 0, 0.42, 12.3, 553, 12345."""
    if value == 0:
        return "0"
    if value < 10:
        return f"{value:.2f}"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _evidence_lines(evidence: dict[str, Any]) -> list[Text]:
    lines = []
    numbers = evidence_numbers(evidence)
    if numbers:
        lines.append(Text("  ·  ".join(numbers)))
    for label, value in evidence_texts(evidence):
        line = Text(f"{label}: ", style="dim")
        line.append(value)
        lines.append(line)
    return lines


def _finding_panel(index: int, finding: Finding) -> Panel:
    style = _STYLE.get(finding.severity, "")
    body: list[Text] = [Text(finding.title, style="bold")]
    where = Text("at ", style="dim")
    if finding.location is not None:
        where.append(f"{finding.location.path}:{finding.location.line}", style="bold")
        where.append(f" in {finding.location.function}", style="dim")
    else:
        where.append("(no call site in your code)")
    loop = finding.evidence.get("loop")
    if isinstance(loop, dict):
        where.append("   loop at ", style="dim")
        where.append(f"{loop['path']}:{loop['line']}", style="bold")
    body.append(where)
    body.extend(_evidence_lines(finding.evidence))
    for static in finding.evidence.get("lint") or ():
        line = Text("static: ", style="bold magenta")
        line.append(f"{static['id']} {static['message']} (confirmed by measurement)")
        body.append(line)
    fix = Text("fix: ", style="bold green")
    fix.append(finding.fix)
    body.append(fix)
    title = Text.assemble(
        (f"{index}. ", "bold"),
        (finding.severity.upper(), style),
        "  ",
        (finding.id, "bold"),
        "  ",
        (finding.endpoint or "", "cyan"),
    )
    return Panel(Group(*body), title=title, title_align="left", border_style=style or "white")


def _suppressed_lines(analysis: Analysis, verbose: bool) -> list[Text]:
    lines = [Text(line, style="dim") for line in analysis.suppressed.lines()]
    if verbose:
        for ignored in analysis.suppressed.ignored:
            finding = ignored.finding
            line = Text("  ignored: ", style="dim")
            line.append(f"{finding.id}  {finding.endpoint or ''}")
            if finding.location is not None:
                line.append(f"  at {finding.location.path}:{finding.location.line}")
            line.append(f"  ({ignored.by}" + (f": {ignored.reason})" if ignored.reason else ")"))
            lines.append(line)
    return lines


def render(analysis: Analysis, stream: TextIO, *, verbose: bool = False) -> None:
    console = _console(stream)
    summary = ", ".join(
        f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in analysis.severity_counts().items()
    )
    console.print(
        Text.assemble(
            ("perfdoctor", "bold"),
            f" — {analysis.traces} traces, {len(analysis.endpoints)} endpoints, "
            f"{len(analysis.findings)} findings" + (f" ({summary})" if summary else ""),
        )
    )
    sampled = sampling_note(analysis.sampled)
    if sampled:
        console.print(Text(sampled, style="yellow"))
    damaged = analysis.damage.line()
    if damaged:
        console.print(Text(damaged, style="yellow"))
    for line in _suppressed_lines(analysis, verbose):
        console.print(line)
    console.print(_endpoint_table(analysis, console.width))
    for name, seen in sorted(analysis.sampled.items()):
        console.print(Text(seen.line(name), style="dim"))
    if analysis.budgets:
        from perfdoctor.report.budget_table import budget_table

        console.print(budget_table(analysis.budgets))
    if analysis.hotspots:
        from perfdoctor.hotspots import hotspot_lines

        for line in hotspot_lines(analysis.hotspots):
            console.print(line)
    if not analysis.findings:
        console.print(
            Text("No findings: nothing over the thresholds in these traces.", style="green")
        )
        return
    console.print(Text("Findings (most severe and costly first)", style="bold"))
    for index, finding in enumerate(analysis.findings, start=1):
        console.print(_finding_panel(index, finding))

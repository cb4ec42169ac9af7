"""The terminal report: an endpoint table, then findings ranked by severity and cost."""

from __future__ import annotations

from typing import Any, TextIO

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from perfdoctor.analyze import Analysis
from perfdoctor.model import Finding

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
# Evidence shown as "label: value" lines, in this order; statements get their own lines.
_NUMBERS = (
    ("count", "runs per request", "{}"),
    ("runs", "runs seen", "{}"),
    ("total_ms", "time per request", "{:.2f} ms"),
    ("wasted_ms", "wasted per request", "{:.2f} ms"),
    ("p50_ms", "p50", "{:.1f} ms"),
    ("p95_ms", "p95", "{:.1f} ms"),
    ("max_ms", "max", "{:.1f} ms"),
    ("budget_ms", "budget", "{:.0f} ms"),
    ("requests_affected", "requests affected", "{}"),
)
_STATEMENTS = (("statement", "query"), ("parent_statement", "after"))


def _console(stream: TextIO) -> Console:
    tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(file=stream, width=None if tty else 120, highlight=False, soft_wrap=False)


def _endpoint_table(analysis: Analysis) -> Table:
    table = Table(title="Endpoints (slowest p95 first)", title_justify="left", expand=False)
    table.add_column("endpoint", overflow="fold")
    for name in ("requests", "p50 ms", "p95 ms", "p99 ms", "queries/req", "db ms/req"):
        table.add_column(name, justify="right")
    table.add_column("findings", justify="right")
    counts: dict[str, int] = {}
    for finding in analysis.findings:
        counts[finding.endpoint or ""] = counts.get(finding.endpoint or "", 0) + 1
    for e in analysis.endpoints:
        n = counts.get(e.name, 0)
        table.add_row(
            e.name,
            str(e.requests),
            f"{e.p50_ms:.1f}",
            f"{e.p95_ms:.1f}",
            f"{e.p99_ms:.1f}",
            f"{e.queries_per_request:.1f}",
            f"{e.db_ms:.1f}",
            Text(str(n), style="bold red" if n else "green"),
        )
    return table


def _evidence_lines(evidence: dict[str, Any]) -> list[Text]:
    lines = []
    numbers = []
    for key, label, fmt in _NUMBERS:
        value = evidence.get(key)
        if value is not None:
            numbers.append(f"{label}: {fmt.format(value)}")
    if numbers:
        lines.append(Text("  ·  ".join(numbers)))
    for key, label in _STATEMENTS:
        value = evidence.get(key)
        if value:
            line = Text(f"{label}: ", style="dim")
            line.append(_shorten(str(value), 400))
            lines.append(line)
    return lines


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def render(analysis: Analysis, stream: TextIO) -> None:
    console = _console(stream)
    by_severity: dict[str, int] = {}
    for finding in analysis.findings:
        by_severity[finding.severity] = by_severity.get(finding.severity, 0) + 1
    summary = ", ".join(f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in by_severity.items())
    console.print(
        Text.assemble(
            ("perfdoctor", "bold"),
            f" — {analysis.traces} traces, {len(analysis.endpoints)} endpoints, "
            f"{len(analysis.findings)} findings" + (f" ({summary})" if summary else ""),
        )
    )
    console.print(_endpoint_table(analysis))
    if not analysis.findings:
        console.print(
            Text("No findings: nothing over the thresholds in these traces.", style="green")
        )
        return
    console.print(Text("Findings (most severe and costly first)", style="bold"))
    for index, finding in enumerate(analysis.findings, start=1):
        console.print(_finding_panel(index, finding))

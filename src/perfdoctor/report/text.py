"""The terminal report: an endpoint table, then findings ranked by severity and cost."""

from __future__ import annotations

from typing import Any, TextIO

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from perfdoctor.analysis.analyze import Analysis
from perfdoctor.analysis.sampling import note as sampling_note
from perfdoctor.report.evidence import evidence_numbers, evidence_texts
from perfdoctor.report.folding import Cause, also_on, fold
from perfdoctor.report.names import MIN_ROOM, name_room, shorten, shorten_all

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _console(stream: TextIO, width: int | None = None) -> Console:
    tty = hasattr(stream, "isatty") and stream.isatty()
    if width is None and not tty:
        width = 120
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


# Below this many characters for the endpoint's name, number columns are left
# out (all-zero ones first, then the least read) rather than cutting names to
# nothing: at 80 columns four go, at 100 one, at 120 none.
_NAME_MIN = 28
_COLUMNS = ("reqs", "p50", "p95", "p99", "q/req", "db", "http", "cache", "python", "findings")
_DROPPABLE = ("p50", "p99", "cache", "http", "python", "db")
_HEADER = "endpoint"


def _rows(analysis: Analysis) -> list[tuple[str, dict[str, Text]]]:
    counts = analysis.findings_per_endpoint()
    rows = []
    for e in analysis.endpoints:
        n = counts.get(e.name, 0)
        cells = {
            "reqs": str(e.requests),
            "p50": _ms(e.p50_ms),
            "p95": _ms(e.p95_ms),
            "p99": _ms(e.p99_ms),
            "q/req": f"{e.queries_per_request:.1f}",
            "db": _ms(e.db_ms),
            "http": _ms(e.http_ms),
            "cache": _ms(e.cache_ms),
            "python": _ms(e.python_ms),
        }
        if e.summaries_only:  # not measured: no request kept its operations
            cells.update(dict.fromkeys(("q/req", "db", "http", "cache", "python"), "-"))
        texts = {k: Text(v) for k, v in cells.items()}
        texts["findings"] = Text(str(n), style="bold red" if n else "green")
        rows.append((e.name, texts))
    return rows


def _table(columns: list[str], rows: list[tuple[str, dict[str, Text]]]) -> Table:
    # No vertical rules, numbers of at most five characters: eleven columns fit
    # in a 100-column terminal with room for the endpoint's name.
    shown = ", ".join(c for c in ("db", "http", "cache", "python") if c in columns)
    table = Table(
        title=f"Endpoints, slowest p95 first (ms; {shown}: mean per request)"
        if shown
        else "Endpoints, slowest p95 first (ms)",
        title_justify="left",
        expand=False,
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        show_edge=False,
        pad_edge=False,
    )
    # One line per endpoint: a long name is cut in the middle, never folded.
    table.add_column(_HEADER, no_wrap=True)
    for name in columns:
        table.add_column(name, justify="right", no_wrap=True)
    for name, cells in rows:
        table.add_row(name, *(cells[c] for c in columns))
    return table


def _endpoint_table(analysis: Analysis, console: Console) -> tuple[Table, list[str]]:
    """The table for ``console``'s width, and the columns left out to fit it."""
    rows = _rows(analysis)
    names = [name for name, _ in rows]
    numbers = [cells for _, cells in rows]
    longest = max(map(len, names), default=0)
    columns = list(_COLUMNS)
    zero = [c for c in _DROPPABLE if all(cells[c].plain == "0" for cells in numbers)]
    order = zero + [c for c in _DROPPABLE if c not in zero]
    dropped: list[str] = []

    def build(shown: list[str]) -> Table:
        return _table(columns, list(zip(shown, numbers)))

    room = name_room(build, len(rows), console)
    while room < min(longest, _NAME_MIN) and order:
        column = order.pop(0)
        columns.remove(column)
        dropped.append(column)
        room = name_room(build, len(rows), console)
    return build(shorten_all(names, max(room, MIN_ROOM))), dropped


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


def _finding_panel(index: int, cause: Cause, width: int) -> Panel:
    finding = cause.finding
    style = _STYLE.get(finding.severity, "")
    body: list[Text] = [Text(finding.title, style="bold")]
    others = also_on(cause)
    if others:
        body.append(Text(f"{others} (same line, same fix)", style="cyan"))
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
    head = f"{index}. {finding.severity.upper()}  {finding.id}  "
    # The panel's corners and the spaces around its title take six columns.
    endpoint = shorten(finding.endpoint or "", width - 6 - len(head))
    title = Text.assemble(
        (f"{index}. ", "bold"),
        (finding.severity.upper(), style),
        "  ",
        (finding.id, "bold"),
        "  ",
        (endpoint, "cyan"),
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


def render(
    analysis: Analysis, stream: TextIO, *, verbose: bool = False, width: int | None = None
) -> None:
    """``width``: the terminal's, when ``stream`` is not the terminal itself (the
    pytest plugin's summary); 120 for a file or a pipe."""
    console = _console(stream, width)
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
    if analysis.merged is not None:
        for merged_line in analysis.merged.lines():
            console.print(Text(merged_line, style="yellow"))
    sampled = sampling_note(analysis.sampled)
    if sampled:
        console.print(Text(sampled, style="yellow"))
    damaged = analysis.damage.line()
    if damaged:
        console.print(Text(damaged, style="yellow"))
    for line in _suppressed_lines(analysis, verbose):
        console.print(line)
    table, dropped = _endpoint_table(analysis, console)
    console.print(table)
    if dropped:
        console.print(
            Text(
                f"({', '.join(dropped)} left out to fit {console.width} columns: "
                "a wider terminal, --format html or json show them)",
                style="dim",
            )
        )
    for name, seen in sorted(analysis.sampled.items()):
        console.print(Text(seen.line(name), style="dim"))
    if analysis.budgets:
        from perfdoctor.report.budget_table import budget_table

        console.print(budget_table(analysis.budgets, console))
    if analysis.hotspots:
        from perfdoctor.analysis.hotspots import hotspot_lines

        for line in hotspot_lines(analysis.hotspots):
            console.print(line)
    if not analysis.findings:
        console.print(
            Text("No findings: nothing over the thresholds in these traces.", style="green")
        )
        return
    causes = fold(analysis.findings)
    heading = "Findings (most severe and costly first)"
    if len(causes) < len(analysis.findings):
        heading = (
            f"Findings (most severe and costly first; {len(causes)} shown of "
            f"{len(analysis.findings)}: one line of code with one fix on several "
            "endpoints is shown once)"
        )
    console.print(Text(heading, style="bold"))
    for index, cause in enumerate(causes, start=1):
        console.print(_finding_panel(index, cause, console.width))

"""Markdown for a pull-request comment: the top findings, the budgets, before/after.

GitHub-flavoured: tables, ``<details>`` for each finding's evidence and fix.  A
comment has a size limit (65,536 characters on GitHub), so only the top findings
are written in full and the rest are counted.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, TextIO

from perfdoctor.analysis.analyze import Analysis
from perfdoctor.analysis.budgets import LIMITS
from perfdoctor.analysis.sampling import note as sampling_note
from perfdoctor.model import Finding
from perfdoctor.report.compare_view import compare_summary
from perfdoctor.report.evidence import (
    evidence_numbers,
    evidence_texts,
    is_prose,
    is_sql,
    num,
)
from perfdoctor.report.folding import also_on, fold

TOP_FINDINGS = 10
# Findings that appeared or went away, listed one per line under before/after.
TOP_CHANGES = 10
_MARK = {"error": "🔴 error", "warning": "🟠 warning", "info": "🔵 info"}


def render(analysis: Analysis, stream: TextIO, *, compare: dict[str, Any] | None = None) -> None:
    stream.write("\n".join(to_markdown(analysis, compare)) + "\n")


def to_markdown(analysis: Analysis, compare: dict[str, Any] | None = None) -> list[str]:
    lines = [f"## perfdoctor: {_summary(analysis)}", ""]
    if analysis.merged is not None:
        lines += [f"_{analysis.merged.note()}_", ""]
    sampled = sampling_note(analysis.sampled)
    if sampled:
        lines += [f"_{sampled}_", ""]
    damaged = analysis.damage.line()
    if damaged:
        lines += [f"_{damaged}._", ""]
    if analysis.suppressed.lines():
        lines += ["_" + "; ".join(analysis.suppressed.lines()) + "._", ""]
    if compare is not None:
        lines += before_after(compare)
    lines += _findings(analysis.findings)
    lines += _budgets(analysis)
    return lines


def _summary(analysis: Analysis) -> str:
    parts = [f"{n} {s}{'s' if n != 1 else ''}" for s, n in analysis.severity_counts().items()]
    found = f"{len(analysis.findings)} finding{'s' if len(analysis.findings) != 1 else ''}"
    return (
        found
        + (f" ({', '.join(parts)})" if parts else "")
        + f" in {analysis.traces} requests to {len(analysis.endpoints)} endpoints"
    )


def _findings(findings: list[Finding]) -> list[str]:
    if not findings:
        return ["No findings: nothing over the thresholds in these traces.", ""]
    causes = fold(findings)
    top = causes[:TOP_FINDINGS]
    lines = [
        "### Top findings" if len(causes) > len(top) else "### Findings",
        "",
        "| # | | Finding | Endpoint | Where |",
        "|--:|---|---|---|---|",
    ]
    for index, cause in enumerate(top, start=1):
        finding = cause.finding
        where = _code(str(finding.location)) if finding.location else "-"
        endpoint = _code(finding.endpoint) if finding.endpoint else "-"
        others = cause.other_endpoints()
        if others:
            endpoint += f" and {len(others)} more"
        lines.append(
            f"| {index} | {_MARK.get(finding.severity, finding.severity)} | "
            f"**{_cell(finding.id)}** {_cell(finding.title)} | {endpoint} | {where} |"
        )
    lines.append("")
    for index, cause in enumerate(top, start=1):
        lines += _details(index, cause.finding, also_on(cause))
    shown = len(top) + sum(len(cause.others) for cause in top)
    if len(findings) > shown:
        rest = Counter(f.severity for c in causes[len(top) :] for f in (c.finding, *c.others))
        counted = ", ".join(f"{n} {s}" for s, n in rest.items())
        lines += [
            f"…and {len(findings) - shown} more ({counted}): "
            "`perfdoctor report` or `--format html` shows them all.",
            "",
        ]
    return lines


def _details(index: int, finding: Finding, others: str = "") -> list[str]:
    lines = [
        "<details>",
        f"<summary>{index}. {_html(finding.id)}: {_html(finding.title)}</summary>",
        "",
    ]
    if others:
        lines += [f"{_html(others[0].upper() + others[1:])} (same line, same fix).", ""]
    if finding.location is not None:
        lines.append(f"At {_code(str(finding.location))} in {_code(finding.location.function)}.")
    loop = finding.evidence.get("loop")
    if isinstance(loop, dict) and "path" in loop:
        loop_at = f"{loop['path']}:{loop.get('line')}"
        lines.append(f"Loop at {_code(loop_at)}.")
    numbers = evidence_numbers(finding.evidence)
    if numbers:
        lines.append(" · ".join(numbers))
    lines.append("")
    for label, text in evidence_texts(finding.evidence, limit=1000):
        if is_prose(label):
            lines += [f"**{label}:** {_html(text)}", ""]
            continue
        fence = _fence(text)
        language = "sql" if is_sql(label) else ""
        lines += [f"{label}:", "", f"{fence}{language}", text, fence, ""]
    for static in finding.evidence.get("lint") or ():
        lines.append(f"Static check {static['id']}: {_html(static['message'])}")
        lines.append("")
    lines += [f"**Fix:** {_html(finding.fix)}", "", "</details>", ""]
    return lines


def _budgets(analysis: Analysis) -> list[str]:
    # Explicit budgets always, seed defaults only when broken: a comment lists
    # what someone set or what went over, not every limit that held.
    rows = [r for r in analysis.budgets if r.explicit or r.broken]
    if not rows:
        return []
    lines = [
        "### Budgets",
        "",
        "| Endpoint | Limit | Budget | Measured | |",
        "|---|---|--:|--:|---|",
    ]
    for row in rows:
        label, unit = LIMITS[row.limit]
        measured = "not measured" if row.measured is None else f"{num(row.measured)} {unit}"
        verdict = "—" if row.measured is None else "❌ over" if row.broken else "✅ ok"
        source = "" if row.explicit else " (default)"
        lines.append(
            f"| {_code(row.endpoint)} | {label}{source} | {num(row.budget)} {unit} | "
            f"{measured} | {verdict} |"
        )
    return [*lines, ""]


def before_after(compare: dict[str, Any]) -> list[str]:
    """A ``perfdoctor compare --format json`` result as Markdown (also ``compare --format
    markdown``)."""
    summary = compare_summary(compare)
    lines = ["### Before / after", ""]
    if summary["method"]:
        lines += [f"Method: {_html(summary['method'])}.", ""]
    if summary["machine"]:
        lines += [f"Machine: {_html(summary['machine'])}.", ""]
    if summary["endpoints"]:
        interval = f"{summary['confidence']} interval" if summary["confidence"] else "interval"
        lines += [
            f"| Endpoint | Verdict | Median | Change ({interval}) | Noise | p95 | Queries/req |",
            "|---|---|--:|--:|--:|--:|--:|",
        ]
        for row in summary["endpoints"]:
            median, p95 = row["median"], row["p95"]
            lines.append(
                f"| {_code(row['name'])} | {_verdict(row['verdict'])} | "
                f"{median['text'] if median else '-'} | {row['change']} | {row['noise']} | "
                f"{p95['text'] if p95 else '-'} | {row['queries']} |"
            )
        lines.append("")
        for row in summary["endpoints"]:
            if row["verdict"] not in ("faster", "slower") and row["verdict_text"]:
                lines.append(f"- {_code(row['name'])}: {_html(row['verdict_text'])}")
        if lines[-1] != "":
            lines.append("")
    for key, label in (("disappeared", "Fixed"), ("appeared", "New")):
        changed = summary[key]
        if changed:
            lines.append(f"**{label}:** {len(changed)} finding{'s' if len(changed) != 1 else ''}")
            for finding in changed[:TOP_CHANGES]:
                where = f" at {finding['location']}" if finding["location"] else ""
                lines.append(
                    f"- {_html(finding['id'])} ({finding['severity']}) on "
                    f"{_html(str(finding['endpoint']))}{_html(where)}"
                )
            if len(changed) > TOP_CHANGES:
                lines.append(f"- …and {len(changed) - TOP_CHANGES} more")
            lines.append("")
    if summary["regressions"]:
        lines += ["**Regression:** " + _html("; ".join(summary["regressions"])), ""]
    return lines


def _verdict(verdict: str) -> str:
    return {"faster": "✅ faster", "slower": "❌ slower"}.get(verdict, verdict)


def _html(text: str) -> str:
    """Text that GitHub shows as written, not as HTML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    """Text inside a table cell: one line, pipes escaped."""
    return _html(" ".join(text.split())).replace("|", "\\|")


def _code(text: str) -> str:
    """An inline code span in a table cell, whatever backticks or pipes it holds."""
    text = " ".join(text.split()).replace("|", "\\|")
    ticks = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _fence(text: str) -> str:
    return "`" * max(3, _longest_run(text, "`") + 1)


def _longest_run(text: str, char: str) -> int:
    longest = run = 0
    for c in text:
        run = run + 1 if c == char else 0
        longest = max(longest, run)
    return longest

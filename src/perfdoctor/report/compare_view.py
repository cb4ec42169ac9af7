"""A ``perfdoctor compare --format json`` result as rows of display strings.

The Markdown and HTML reports show the before/after of a comparison read back
from its JSON file (the terminal view works on the live Comparison instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CompareRow:
    endpoint: str
    verdict: str
    median: str  # "12.3 → 4.1 ms"
    change: str  # "-8.2 ms (-67%), interval [-9.0, -7.5]"
    p95: str
    queries: str
    memory: str


def compare_rows(result: dict[str, Any]) -> list[CompareRow]:
    rows = []
    for entry in result.get("endpoints") or ():
        name = str(entry.get("name", ""))
        after_name = entry.get("after_name")
        if after_name and after_name != name:
            name = f"{name} → {after_name}"
        median = entry.get("median_ms")
        p95 = entry.get("p95_ms")
        rows.append(
            CompareRow(
                endpoint=name,
                verdict=str(entry.get("verdict", "")),
                median=_before_after(median, " ms"),
                change=_change(median),
                p95=_before_after(p95, " ms"),
                queries=_before_after(entry.get("queries_per_request"), "", "{:.3g}"),
                memory=_before_after(entry.get("memory_peak_kb"), " KB"),
            )
        )
    return rows


def confidence_label(result: dict[str, Any]) -> str:
    confidence = result.get("confidence")
    return f"{confidence * 100:g}%" if isinstance(confidence, int | float) else "95%"


def finding_label(finding: dict[str, Any]) -> str:
    """``id`` on ``endpoint`` at ``path:line``, for findings that appeared or went away."""
    location = finding.get("location") or {}
    where = ""
    if isinstance(location, dict) and location.get("path"):
        where = f" at {location['path']}:{location.get('line', '?')}"
    return f"{finding.get('id')} ({finding.get('severity')}) on {finding.get('endpoint')}{where}"


def _number(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
    return f"{value:.{digits}f}"


def _before_after(pair: Any, unit: str, fmt: str | None = None) -> str:
    if not isinstance(pair, dict) or (pair.get("before") is None and pair.get("after") is None):
        return "-"

    def one(value: Any) -> str:
        if fmt is None or not isinstance(value, int | float):
            return _number(value)
        return fmt.format(value)

    return f"{one(pair.get('before'))} → {one(pair.get('after'))}{unit}"


def _change(change: Any) -> str:
    if not isinstance(change, dict) or change.get("diff") is None:
        return "-"
    diff = change["diff"]
    text = f"{'+' if diff >= 0 else ''}{_number(diff)} ms"
    pct = change.get("pct")
    if isinstance(pct, int | float):
        text += f" ({pct:+.{1 if abs(pct) < 10 else 0}f}%)"
    interval = change.get("diff_interval")
    if isinstance(interval, list) and len(interval) == 2 and None not in interval:
        low, high = interval
        text += f", interval [{'+' if low >= 0 else ''}{_number(low)}, "
        text += f"{'+' if high >= 0 else ''}{_number(high)}]"
    return text

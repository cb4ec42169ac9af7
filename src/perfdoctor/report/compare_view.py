"""A ``perfdoctor compare --format json`` result, read back for a report's before/after.

The Markdown and HTML reports show the before/after of a comparison from its
JSON file (the terminal view works on the live Comparison instead).
"""

from __future__ import annotations

from typing import Any

from perfdoctor.report.evidence import num

# What a table shows for a value it does not have (an en dash).
DASH = "\u2013"


def ms(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return DASH
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _change(change: Any) -> dict[str, Any] | None:
    if not isinstance(change, dict):
        return None
    interval = change.get("diff_interval") or [None, None]
    pct = change.get("pct")
    return {
        "before": change.get("before"),
        "after": change.get("after"),
        "text": f"{ms(change.get('before'))} → {ms(change.get('after'))} ms",
        "diff": f"{diff:+.2f} ms" if isinstance(diff := change.get("diff"), (int, float)) else "",
        "interval": f"[{ms(interval[0])}, {ms(interval[1])}] ms",
        "pct": f"{pct:+.1f}%" if isinstance(pct, (int, float)) else "",
    }


def _pair(pair: Any) -> str:
    if not isinstance(pair, dict):
        return DASH
    before, after = pair.get("before"), pair.get("after")
    if before is None and after is None:
        return DASH
    return f"{_num_or_dash(before)} → {_num_or_dash(after)}"


def _num_or_dash(value: Any) -> str:
    return num(float(value)) if isinstance(value, (int, float)) else DASH


def compare_summary(data: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for endpoint in data.get("endpoints") or ():
        if not isinstance(endpoint, dict):
            continue
        name = str(endpoint.get("name", ""))
        after_name = str(endpoint.get("after_name") or name)
        rows.append(
            {
                "name": name if after_name == name else f"{name} → {after_name}",
                "verdict": str(endpoint.get("verdict", "")),
                "verdict_text": str(endpoint.get("verdict_text") or ""),
                "change": _latency_change(endpoint.get("latency"), endpoint.get("median_ms")),
                "noise": _noise(endpoint.get("latency")),
                "samples": _pair(endpoint.get("samples")),
                "median": _change(endpoint.get("median_ms")),
                "p95": _change(endpoint.get("p95_ms")),
                "queries": _pair(endpoint.get("queries_per_request")),
            }
        )
    findings = data.get("findings") or {}

    def listed(key: str) -> list[dict[str, Any]]:
        items = findings.get(key) if isinstance(findings, dict) else None
        return [
            {
                "severity": str(f.get("severity", "")),
                "id": str(f.get("id", "")),
                "endpoint": f.get("endpoint"),
                "title": f.get("title"),
                "location": _location_text(f.get("location")),
            }
            for f in items or ()
            if isinstance(f, dict)
        ]

    confidence = data.get("confidence")
    return {
        "method": str(data.get("method_text") or ""),
        "machine": _machine(data.get("machine")),
        "before": data.get("before"),
        "after": data.get("after"),
        "confidence": f"{confidence:.0%}" if isinstance(confidence, (int, float)) else None,
        "regression": bool(data.get("regression")),
        "regressions": [str(r) for r in data.get("regressions") or ()],
        "endpoints": rows,
        "only_before": [str(n) for n in data.get("only_before") or ()],
        "only_after": [str(n) for n in data.get("only_after") or ()],
        "appeared": listed("appeared"),
        "disappeared": listed("disappeared"),
    }


def _location_text(location: Any) -> str | None:
    if isinstance(location, dict) and location.get("path"):
        return f"{location['path']}:{location.get('line', '?')}"
    return None


def _latency_change(latency: Any, median: Any) -> str:
    """The change of the median as the verdict's method measured it."""
    if isinstance(latency, dict) and isinstance(latency.get("pct"), (int, float)):
        low, high = latency.get("ratio_interval") or [None, None]
        if isinstance(low, (int, float)) and isinstance(high, (int, float)):
            return f"{latency['pct']:+.1f}% [{(low - 1) * 100:+.0f}%, {(high - 1) * 100:+.0f}%]"
        return f"{latency['pct']:+.1f}%"
    # A result written before rounds: the bootstrap interval of the median.
    change = _change(median)
    if change is None:
        return DASH
    pct = f" ({change['pct']})" if change["pct"] else ""
    return f"{change['diff']}{pct}, interval {change['interval']}"


def _noise(latency: Any) -> str:
    if isinstance(latency, dict) and isinstance(latency.get("noise_pct"), (int, float)):
        detectable = latency.get("min_detectable_change_pct")
        tail = f" (detects ≥{detectable:.0f}%)" if isinstance(detectable, (int, float)) else ""
        return f"±{latency['noise_pct']:.0f}%{tail}"
    return DASH


def _machine(machine: Any) -> str:
    if not isinstance(machine, dict):
        return ""
    parts = []
    for side in ("before", "after"):
        facts = machine.get(side)
        if not isinstance(facts, dict):
            continue
        if isinstance(facts.get("other_cpu_pct"), (int, float)):
            parts.append(f"other processes {facts['other_cpu_pct']:.0f}% of CPU time {side}")
        if isinstance(facts.get("cpu_pressure_pct"), (int, float)):
            parts.append(f"CPU pressure {facts['cpu_pressure_pct']:.0f}% {side}")
    return ", ".join(parts)

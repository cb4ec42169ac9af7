"""``perfdoctor compare --format json``: one object, format version 1."""

from __future__ import annotations

from typing import Any

from perfdoctor.compare import FORMAT_VERSION, Change, Comparison, EndpointChange


def to_json(result: Comparison) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "tool": "perfdoctor compare",
        "before": result.before_path,
        "after": result.after_path,
        "confidence": result.confidence,
        "resamples": result.resamples,
        "seed": result.seed,
        "min_change_pct": result.min_change_pct,
        "regression": bool(result.regressions),
        "regressions": result.regressions,
        "endpoints": [_endpoint_json(e) for e in result.endpoints],
        "only_before": result.only_before,
        "only_after": result.only_after,
        "findings": {"appeared": result.appeared, "disappeared": result.disappeared},
    }


def _endpoint_json(change: EndpointChange) -> dict[str, Any]:
    return {
        "name": change.name,
        "after_name": change.after_name or change.name,
        "verdict": change.verdict,
        "samples": _pair(*change.samples),
        "errors": _pair(*change.errors),
        "median_ms": _change_json(change.median),
        "p95_ms": _change_json(change.p95),
        "queries_per_request": _pair(*change.queries),
        "memory_peak_kb": _pair(*change.memory_kb),
    }


def _pair(before: float | None, after: float | None) -> dict[str, float | None]:
    diff = None if before is None or after is None else after - before
    return {"before": before, "after": after, "diff": diff}


def _change_json(change: Change | None) -> dict[str, Any] | None:
    if change is None:
        return None
    return {
        "before": change.before,
        "after": change.after,
        "diff": change.diff,
        "diff_interval": [change.diff_low, change.diff_high],
        "ratio": change.ratio,
        "ratio_interval": (
            None if change.ratio_low is None else [change.ratio_low, change.ratio_high]
        ),
        "pct": change.pct,
    }

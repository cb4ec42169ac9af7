"""``perfdoctor compare --format json``: one object, format version 1."""

from __future__ import annotations

from typing import Any

from perfdoctor.bench.bootstrap import Change
from perfdoctor.bench.compare import FORMAT_VERSION, Comparison, CounterChange, EndpointChange
from perfdoctor.bench.verdict import METHOD_TEXT, Latency


def to_json(result: Comparison) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "tool": "perfdoctor compare",
        "before": result.before_path,
        "after": result.after_path,
        "method": result.method,
        "method_text": METHOD_TEXT.get(result.method, result.method),
        "confidence": result.confidence,
        "resamples": result.resamples,
        "seed": result.seed,
        "min_change_pct": result.min_change_pct,
        "machine": result.machine,
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
        "verdict_text": change.latency.sentence() if change.latency else change.verdict,
        "latency": _latency_json(change.latency),
        "samples": _pair(*change.samples),
        "errors": _pair(*change.errors),
        "median_ms": _change_json(change.median),
        "p95_ms": _change_json(change.p95),
        "queries_per_request": _pair(*change.queries),
        "per_request": {c.name: _counter_json(c) for c in change.counters},
        "cpu_ms_p50": _pair(*change.cpu_ms),
        "memory_peak_kb": _pair(*change.memory_kb),
    }


def _latency_json(latency: Latency | None) -> dict[str, Any] | None:
    if latency is None:
        return None
    return {
        "method": latency.method,
        "ratio": latency.ratio,
        "pct": latency.pct,
        "ratio_interval": [latency.ratio_low, latency.ratio_high],
        "drift_allowance_pct": latency.drift_pct,
        "noise_pct": latency.noise_pct,
        "min_detectable_change_pct": latency.mdc_pct,
        "units": _pair(*latency.units),
        "round_spread_pct": {"before": latency.spread_pct[0], "after": latency.spread_pct[1]},
        "note": latency.note,
    }


def _counter_json(counter: CounterChange) -> dict[str, Any]:
    return {
        "before": counter.before,
        "after": counter.after,
        "changed": counter.changed,
        "varies": counter.varies,
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

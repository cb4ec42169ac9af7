"""Generated `perfdoctor bench --output` results with seeded random latencies."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any


def latencies(
    seed: int, n: int = 500, median_ms: float = 20.0, shift_ms: float = 0.0
) -> list[float]:
    """Lognormal latencies (a long right tail, like real ones) around ``median_ms``."""
    rng = random.Random(seed)
    return [round(median_ms * rng.lognormvariate(0.0, 0.25) + shift_ms, 3) for _ in range(n)]


def endpoint(
    samples: list[float], queries: float | None = 2.0, memory_kb: float | None = 512.0
) -> dict[str, Any]:
    ordered = sorted(samples)

    def at(pct: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * pct))] if ordered else 0.0

    return {
        "requests": len(samples),
        "errors": 0,
        "latencies_ms": samples,
        "p50_ms": at(0.5),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": ordered[-1] if ordered else 0.0,
        "queries_per_request": queries,
        "memory_peak_kb": memory_kb,
    }


def finding(
    id: str = "n-plus-one-query",
    endpoint: str = "GET /articles",
    severity: str = "error",
    line: int = 42,
) -> dict[str, Any]:
    return {
        "id": id,
        "severity": severity,
        "title": f"{id} on {endpoint}",
        "endpoint": endpoint,
        "location": {"path": "app/views.py", "line": line, "function": "article_list"},
        "evidence": {"count": 30},
        "fix": "use select_related",
    }


def result(
    endpoints: dict[str, dict[str, Any]], findings: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "version": 1,
        "tool": "perfdoctor bench",
        "created": "2026-11-26T03:00:00+00:00",
        "mode": "inprocess",
        "engine": "builtin",
        "settings": {"concurrency": 1},
        "endpoints": endpoints,
        "findings": findings or [],
    }


def write(path: Path, data: dict[str, Any]) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)

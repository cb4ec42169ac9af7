"""The JSON contract, version 1 (PRODUCT.md): stable ids, numbers in ms/rows/bytes."""

from __future__ import annotations

import json
from typing import Any, TextIO

from perfdoctor.analysis.analyze import Analysis

CONTRACT_VERSION = 1


def to_dict(analysis: Analysis) -> dict[str, Any]:
    return {
        "version": CONTRACT_VERSION,
        "findings": [f.to_dict() for f in analysis.findings],
        "endpoints": [
            {
                "name": e.name,
                "requests": e.requests,
                "p50_ms": e.p50_ms,
                "p95_ms": e.p95_ms,
                "p99_ms": e.p99_ms,
                "queries_per_request": e.queries_per_request,
                "db_ms": e.db_ms,
                "http_ms": e.http_ms,
                # Added in version 1 without breaking it: new keys only.
                "cache_ms": e.cache_ms,
                "python_ms": e.python_ms,
                # Added in version 1: only when true (`run --sample-tail summary` kept
                # none of its requests with their operations: the means are 0, unmeasured).
                **({"summaries_only": True} if e.summaries_only else {}),
                # Added in version 1: only with `run --profile` traces.
                **(
                    {"hotspots": analysis.hotspots[e.name]}
                    if analysis.hotspots.get(e.name)
                    else {}
                ),
            }
            for e in analysis.endpoints
        ],
        # Added in version 1: [tool.perfdoctor.budgets] as checked, one row per limit.
        "budgets": [row.to_dict() for row in analysis.budgets],
        # Added in version 1: findings ignored ([tool.perfdoctor.ignore], inline
        # comments, each with why) and how many --baseline left out.
        "suppressed": analysis.suppressed.to_dict(),
        # Added in version 1: rows of the trace store that could not be read and
        # were left out, per table (all 0 for an undamaged store).
        "damaged": analysis.damage.counts(),
        # Added in version 1: only for traces of `run --sample`; per endpoint the
        # requests seen and traces kept ("requests" above is then what was seen).
        **(
            {
                "sampled": {
                    # "summary" (only when some): of those kept, traces without
                    # their operations (`run --sample-tail summary`).
                    name: {"seen": s.seen, "kept": s.kept, "rate": s.rate}
                    | ({"summary": s.summary} if s.summary else {})
                    for name, s in analysis.sampled.items()
                }
            }
            if analysis.sampled
            else {}
        ),
        # Added in version 1: only from `perfdoctor merge`; the reports merged and
        # each one's endpoint figures (the merged percentiles are the highest).
        **({"merged": analysis.merged.to_dict()} if analysis.merged is not None else {}),
    }


def render(analysis: Analysis, stream: TextIO) -> None:
    json.dump(to_dict(analysis), stream, indent=2, default=str)
    stream.write("\n")

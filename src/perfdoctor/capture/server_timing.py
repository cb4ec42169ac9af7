"""``perfdoctor run --server-timing``: a ``Server-Timing`` header on each captured response.

The browser's DevTools show it in the Network panel's Timing tab (and
``performance.getEntriesByType("navigation")[0].serverTiming`` reads it), so a
page's database, HTTP and cache time is seen where the page is looked at::

    Server-Timing: db;dur=12.3;desc="31 queries", http;dur=40.2;desc="2 calls",
                   cache;dur=0.8;desc="3 calls", app;dur=61.0;desc="until headers"

Syntax per the W3C Server Timing spec: metrics separated by commas, each a name
with ``dur`` (milliseconds) and a quoted ``desc``.  Each kind counts the union
of its spans' intervals, as ``perfdoctor report`` does (:mod:`perfdoctor.analysis.timing`).
The header goes out before the body, so its figures are what is known then: for
a streamed body, the work done until the first bytes.

Off unless asked for (``PERFDOCTOR_SERVER_TIMING=1``): it tells any client how
many queries a page runs, which is no production server's business.
"""

from __future__ import annotations

import os
import re

from perfdoctor.analysis.timing import BUCKETS, covered_ms
from perfdoctor.capture import context

ENV_SERVER_TIMING = "PERFDOCTOR_SERVER_TIMING"
HEADER = "Server-Timing"


class _Switch:
    on = False


switch = _Switch()


def from_env() -> None:
    switch.on = os.environ.get(ENV_SERVER_TIMING) == "1"


def value(trace: context.ActiveTrace) -> str | None:
    """The header's value for ``trace`` as it stands now; None if it cannot be made."""
    try:
        now = context.perf_counter() - trace.start
        intervals: dict[str, list[tuple[float, float]]] = {"db": [], "http": [], "cache": []}
        counts = {"db": 0, "http": 0, "cache": 0}
        # A copy: a pool thread of the same request may still append.
        for span in list(trace.spans):
            kind = span[0]
            bucket = BUCKETS.get(kind)
            if bucket is None:
                continue
            start = float(span[1])
            if start >= now:
                continue
            intervals[bucket].append((start, min(start + float(span[2]), now)))
            if kind != "db.connect":
                counts[bucket] += 1
        metrics = [_metric("db", intervals["db"], _count(counts["db"], "query", "queries"))]
        for bucket in ("http", "cache"):
            if counts[bucket]:
                metrics.append(_metric(bucket, intervals[bucket], _count(counts[bucket], "call")))
        metrics.append(f'app;dur={now * 1000.0:.1f};desc="until headers"')
        return ", ".join(metrics)
    except Exception:  # never break the response
        return None


def _metric(name: str, intervals: list[tuple[float, float]], desc: str) -> str:
    return f'{name};dur={covered_ms(intervals) * 1000.0:.1f};desc="{desc}"'


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


# Our db metric as :func:`value` writes it; the last one in a header is ours (see joined).
_DB_QUERIES = re.compile(r'(?:^|,)\s*db;[^,]*?desc="(\d+) quer(?:y|ies)"')


def queries_in(header: str | None) -> int | None:
    """The queries a response's ``Server-Timing`` header says its request ran (``perfdoctor
    bench --url`` against an app under ``perfdoctor run --server-timing``); None if it
    does not say."""
    if not header:
        return None
    found = _DB_QUERIES.findall(header)
    return int(found[-1]) if found else None


def joined(existing: str | None, ours: str) -> str:
    """The app's own Server-Timing metrics kept, ours after them."""
    return f"{existing}, {ours}" if existing else ours

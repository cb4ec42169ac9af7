"""sequential-db: awaited queries of an async request run one after another.

Conservative, like Sentry's consecutive-DB-queries detector: only reads, only
queries of an async driver (a blocking one is blocking-in-async), each from its
own call site (one line repeated is a loop: n-plus-one-query), none overlapping
another, and only when running them together would save a real amount of time.
"""

from __future__ import annotations

from collections.abc import Iterable

from perfdoctor.detectors import register
from perfdoctor.detectors._db import framework_of
from perfdoctor.detectors._sql import is_read
from perfdoctor.detectors.base import PerTraceDetector, finding_fingerprint
from perfdoctor.model import Finding, Location, Span, Trace
from perfdoctor.settings import Settings


def remedy(framework: str | None, connections: int) -> str:
    if framework == "sqlalchemy":
        return (
            "Run the independent queries concurrently, each in its own AsyncSession (an "
            "AsyncSession runs one statement at a time): async with a TaskGroup (or "
            "asyncio.gather), one `async with Session() as s: await s.execute(...)` per "
            "query."
        )
    same = (
        " They share one connection now, and a connection runs one query at a time: "
        "take one per query from the pool (async with pool.acquire() as conn)."
        if connections <= 1
        else ""
    )
    return (
        "Run the independent queries concurrently: asyncio.gather(...) or an "
        f"asyncio.TaskGroup, each query on its own connection.{same}"
    )


def _site(span: Span) -> tuple[Location, ...]:
    """Where a query came from: its whole user stack, so one helper called from
    three lines is three sites, and a loop is one."""
    return tuple(span.stack) or ((span.location,) if span.location else ())


def _awaiting_lines(run: list[Span]) -> list[Location | None]:
    """Each query's frame at the innermost depth where the run's stacks part: the
    lines that await one after another (past a shared helper)."""
    stacks = [span.stack for span in run]
    for depth in range(min(len(stack) for stack in stacks)):
        if len({stack[depth] for stack in stacks}) > 1:
            return [stack[depth] for stack in stacks]
    return [span.location for span in run]


def _candidates(trace: Trace) -> list[list[Span]]:
    """Runs of consecutive, non-overlapping async reads from distinct call sites.

    Spans are in the order they finished, so a span that started before the one
    before it ended ran alongside it: both are already concurrent.
    """
    runs: list[list[Span]] = []
    current: list[Span] = []
    for span in trace.spans:
        if span.kind != "db":
            continue
        if current and span.start_ms < current[-1].end_ms:
            current.pop()
            runs.append(current)
            current = []
        elif not is_read(span.statement) or span.attrs.get("blocks_event_loop"):
            runs.append(current)
            current = []
        elif any(_site(s) == _site(span) for s in current):
            runs.append(current)
            current = [span]
        else:
            current.append(span)
    runs.append(current)
    return [run for run in runs if run]


@register
class SequentialDb(PerTraceDetector):
    id = "sequential-db"
    description = "independent awaited queries of an async request run one after another"

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        if not trace.attrs.get("async"):
            return
        for run in _candidates(trace):
            if len(run) < settings.sequential_db_min_queries:
                continue
            durations = [s.duration_ms for s in run]
            total, longest = sum(durations), max(durations)
            saving = total - longest
            if saving < settings.sequential_db_min_saving_ms:
                continue
            first = run[0]
            lines = _awaiting_lines(run)
            location = lines[0]
            connections = len({s.connection_id for s in run})
            yield Finding(
                id=self.id,
                severity="warning",
                title=(
                    f"Sequential queries: {len(run)} independent queries awaited one after "
                    f"another; together they would take {longest:.0f} ms, not {total:.0f} ms"
                ),
                endpoint=trace.name,
                location=location,
                evidence={
                    "queries": len(run),
                    "total_ms": round(total, 3),
                    "longest_ms": round(longest, 3),
                    "wasted_ms": round(saving, 3),
                    "connections": connections,
                    "statements": [s.statement for s in run],
                    "locations": [str(line) if line else None for line in lines],
                    "system": first.system,
                },
                fix=remedy(framework_of(run), connections),
                fingerprint=finding_fingerprint(
                    self.id, trace.name, *(s.fingerprint for s in run), location
                ),
            )

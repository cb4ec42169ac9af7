"""Queued tasks have the seed's job budget (p95 < 30 s), not the 500 ms of a request.

The traces are built by hand: what is judged is their recorded duration.
"""

from __future__ import annotations

import uuid

from perfdoctor.analysis.analyze import analyze
from perfdoctor.analysis.budgets import check, parse
from perfdoctor.model import Trace
from perfdoctor.settings import Settings

HANDLER = {"path": "app/tasks.py", "line": 12, "function": "build_report"}


def runs(name: str, kind: str, *durations_ms: float) -> list[Trace]:
    attrs = {"handler": HANDLER} if kind == "job" else {}
    return [
        Trace(uuid.uuid4().hex, name, kind, 0.0, duration, attrs=dict(attrs))
        for duration in durations_ms
    ]


def slow(traces: list[Trace], settings: Settings | None = None) -> dict[str, dict[str, object]]:
    found = analyze(traces, settings or Settings()).findings
    return {f.endpoint or "": f.to_dict() for f in found if f.id == "slow-endpoint"}


def test_a_task_over_30_s_is_slow_and_points_at_the_task() -> None:
    findings = slow(runs("task app.tasks.build_report", "job", 41_000, 42_000, 45_000))
    finding = findings["task app.tasks.build_report"]
    assert finding["severity"] == "warning"
    assert finding["evidence"]["budget_ms"] == 30_000  # type: ignore[index]
    assert finding["evidence"]["requests"] == 3  # type: ignore[index]
    assert finding["location"] == {"path": "app/tasks.py", "line": 12, "function": "build_report"}
    # A task is off the request path already: the fix shortens or splits it.
    assert "smaller tasks" in str(finding["fix"])
    assert "out of the request" not in str(finding["fix"])


def test_a_task_of_seconds_is_within_its_budget_where_a_request_is_not() -> None:
    traces = [
        *runs("task app.tasks.send_digest", "job", 2_000, 2_500, 3_000),
        *runs("GET /digest", "http", 2_000, 2_500, 3_000),
    ]
    assert set(slow(traces)) == {"GET /digest"}


def test_the_job_budget_comes_from_the_settings() -> None:
    traces = runs("task app.tasks.send_digest", "job", 2_000, 2_500, 3_000)
    tight = Settings().replace(slow_job_p95_ms=1_000.0)
    assert set(slow(traces, tight)) == {"task app.tasks.send_digest"}
    budget = parse({"default": {"max_queries": 10}}).for_endpoint("task x", tight, job=True)
    assert budget.limits["p95_ms"] == 1_000.0
    # The `default` table is the requests' default, not the tasks'.
    assert budget.explicit == frozenset()


def test_jobs_table_is_the_tasks_default_and_default_stays_the_requests() -> None:
    budgets = parse({
        "default": {"p95_ms": 300},
        "jobs": {"p95_ms": 10_000},
        "task app.tasks.build_report": {"max_queries": 5},
    })
    traces = [
        *runs("task app.tasks.build_report", "job", 20_000),
        *runs("task app.tasks.send_digest", "job", 2_000),
        *runs("GET /digest", "http", 200),
    ]
    rows, findings = check(traces, budgets, Settings())
    p95 = {row.endpoint: row for row in rows if row.limit == "p95_ms"}
    assert p95["task app.tasks.build_report"].budget == 10_000
    assert p95["task app.tasks.send_digest"].budget == 10_000
    assert p95["GET /digest"].budget == 300
    assert [(f.endpoint, f.evidence["limit"]) for f in findings] == [
        ("task app.tasks.build_report", "p95_ms")
    ]
    # The task's own table over `jobs`: its query limit is checked as well.
    limits = {row.limit for row in rows if row.endpoint == "task app.tasks.build_report"}
    assert "max_queries" in limits

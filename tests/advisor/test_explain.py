"""``perfdoctor explain``: one plan model for the three databases, and the problems it shows."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from tests.advisor import workload
from tests.advisor.conftest import sqlite_url
from tests.conftest import run_perfdoctor

JOIN = (
    "SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id "
    "WHERE c.country = 'C3' ORDER BY o.total"
)
# status follows id % 100 in the workload: the planner cannot know, so it guesses low.
CORRELATED = "SELECT id FROM orders WHERE status = 'returned' AND id % 100 = 99"


def _explain(url: str, *args: str) -> list[dict[str, Any]]:
    result = run_perfdoctor("explain", "--db", url, *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    queries: list[dict[str, Any]] = json.loads(result.stdout)["queries"]
    return queries


def _kinds(query: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(p["kind"], p["table"]) for p in query["problems"]}


def _ops(node: dict[str, Any]) -> list[str]:
    return [node["op"], *(op for child in node.get("children", []) for op in _ops(child))]


def test_sqlite_plan_and_problems(sqlite_workload: str) -> None:
    [join, cross] = _explain(
        sqlite_url(sqlite_workload),
        "--query",
        JOIN,
        "--query",
        "SELECT o.id FROM orders o, customers c WHERE o.status = c.country",
    )
    assert join["plan"]["cost_unit"] == "VM steps" and join["plan"]["cost"] > 100_000
    assert ("full-scan", "orders") in _kinds(join)
    assert ("sort-without-index", None) in _kinds(join)
    # SQLite's automatic index is the nested loop's missing index.
    assert ("nested-loop-scan", "customers") in _kinds(cross)


def test_postgres_analyze_shows_estimate_mismatch(pg_workload: str) -> None:
    [join, correlated, stored] = _explain(
        pg_workload,
        "--query",
        JOIN,
        "--query",
        CORRELATED,
        "--query",
        workload.QUERIES[1],
        "--analyze",
    )
    assert join["plan"]["analyzed"] is True and join["plan"]["cost_unit"] == "planner cost"
    assert {("full-scan", "orders"), ("full-scan", "customers")} <= _kinds(join)
    assert any(kind == "sort-without-index" for kind, _ in _kinds(join))
    assert any(kind == "estimate-mismatch" for kind, _ in _kinds(correlated))
    # Placeholders re-bound with sampled values, so even the stored statement is analysed.
    assert stored["plan"]["analyzed"] is True


def test_postgres_generic_plan_when_no_value_fits(pg_workload: str) -> None:
    # No column to sample for "? = 1": PostgreSQL's generic plan (PREPARE, force_generic_plan).
    [query] = _explain(pg_workload, "--query", "SELECT id FROM orders WHERE ? = 1 AND total > 3")
    assert query["plan"]["analyzed"] is False
    assert "scan" in _ops(query["plan"]["plan"])


def test_postgres_nested_loop_over_scan(pg_workload: str) -> None:
    # An inequality join leaves PostgreSQL no hash or merge join: a loop over a scan.
    [query] = _explain(
        pg_workload,
        "--query",
        "SELECT c.id FROM customers c JOIN orders o ON o.customer_id < c.id "
        "WHERE c.email = 'user5@example.com'",
    )
    assert ("nested-loop-scan", "orders") in _kinds(query)


def test_mariadb_plan_and_problems(mysql_workload: dict[str, Any]) -> None:
    [join] = _explain(workload.mysql_url(mysql_workload), "--query", JOIN)
    assert join["plan"]["cost_unit"] == "rows examined (estimated)"
    assert ("full-scan", "orders") in _kinds(join)
    assert ("sort-without-index", None) in _kinds(join)
    assert "nested-loop" in _ops(join["plan"]["plan"])


def test_analyze_never_runs_an_unknown_function(pg_workload: str) -> None:
    # pg_advisory_lock would take a lock if the statement ran: planned only.
    [query] = _explain(
        pg_workload, "--query", "SELECT pg_advisory_lock(42) FROM orders LIMIT 1", "--analyze"
    )
    assert query["plan"]["analyzed"] is False
    assert "pg_advisory_lock()" in query["note"]
    with psycopg.connect(pg_workload) as conn:
        held = conn.execute(b"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()
    assert held == (0,)

"""The advisor never waits long for a lock: a writer holding the table makes the rolled-back
trial give up after the lock timeout (that candidate only), and HypoPG needs no lock at all."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import psycopg

from tests.advisor import workload
from tests.advisor.conftest import query_args, sqlite_url
from tests.conftest import run_perfdoctor


def _indexes(url: str, *extra: str) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    result = run_perfdoctor("indexes", "--db", url, *query_args(), "--format", "json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), time.monotonic() - started


def _proposed(data: dict[str, Any]) -> set[tuple[str, tuple[str, ...]]]:
    return {(i["table"], tuple(i["columns"])) for i in data["indexes"]}


def test_postgres_writer_on_orders(pg_workload: str) -> None:
    with psycopg.connect(pg_workload) as writer:
        # An open write transaction, as a busy app holds: CREATE INDEX would wait for it.
        writer.execute(b"UPDATE orders SET total = total WHERE id = 1")
        rolled_back, _ = _indexes(pg_workload, "--no-hypopg", "--allow-locks")
        hypothetical, _ = _indexes(pg_workload)
        writer.rollback()
    assert _proposed(rolled_back) == {("customers", ("email",))}
    reasons = {r["index"]: r["reason"] for r in rolled_back["rejected"]}
    assert "lock timeout" in reasons["orders(customer_id, created_at)"]
    assert _proposed(hypothetical) == workload.EXPECTED


def test_sqlite_writer_holds_the_database(sqlite_workload: str) -> None:
    writer = sqlite3.connect(sqlite_workload, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        data, _ = _indexes(sqlite_url(sqlite_workload))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert _proposed(data) == set()
    assert all(
        "database is locked" in r["reason"]
        for r in data["rejected"]
        if "already served" not in r["reason"]
    )

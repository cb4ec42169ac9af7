"""Queries from PostgreSQL's own slow-query log (log_min_duration_statement), as a server
writes it: literals stripped, other databases' lines left out."""

from __future__ import annotations

import glob
import json
import os
import time

import psycopg
import pytest

from tests.advisor import workload
from tests.conftest import run_perfdoctor


def _server_log() -> str:
    logs = sorted(glob.glob("/var/log/postgresql/postgresql-*-main.log"))
    if not logs or not os.access(logs[-1], os.R_OK):
        pytest.skip("the PostgreSQL server log is not readable here (Debian path)")
    return logs[-1]


def test_indexes_from_the_slow_query_log(pg_workload: str) -> None:
    log = _server_log()
    with psycopg.connect(pg_workload, autocommit=True) as conn:
        # Log every statement of this session only (superuser-only setting, as an operator sets it).
        conn.execute(b"SET log_min_duration_statement = 0")
        for n in (11, 222, 3333):
            conn.execute(
                f"SELECT * FROM orders WHERE customer_id = {n} ORDER BY created_at DESC "
                "LIMIT 20".encode()
            ).fetchall()
            conn.execute(
                f"SELECT id, email FROM customers\n\tWHERE email = 'user{n}@example.com'".encode()
            ).fetchall()
    time.sleep(0.5)  # the logger process writes asynchronously
    result = run_perfdoctor("indexes", "--db", pg_workload, "--pg-log", log, "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {(i["table"], tuple(i["columns"])) for i in data["indexes"]} == workload.EXPECTED
    sources = {q["source"] for q in data["queries"]}
    assert sources == {"PostgreSQL log"}
    statements = {q["sql"] for q in data["queries"]}
    assert "SELECT id, email FROM customers WHERE email = ?" in statements
    assert not any("user11@" in s for s in statements)  # literals stripped
    orders = next(q for q in data["queries"] if q["sql"].startswith("SELECT * FROM orders"))
    assert orders["calls"] == 3


def test_pg_log_needs_postgresql(sqlite_workload: str) -> None:
    result = run_perfdoctor("indexes", "--db", f"sqlite:///{sqlite_workload}", "--pg-log", "/x")
    assert result.returncode == 2 and "needs a postgresql:// URL" in result.stderr

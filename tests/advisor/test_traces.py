"""Queries from a trace store captured under ``perfdoctor run``: literals stripped, values
re-bound from the database; ``perfdoctor report --db`` turns kept indexes into
``missing-index`` findings on the endpoints whose queries they help."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.advisor.conftest import sqlite_url
from tests.conftest import findings, run_perfdoctor

SCRIPT = Path(__file__).parent / "apps" / "shop_script.py"


@pytest.fixture(scope="module")
def shop_traces(sqlite_workload: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    traces = tmp_path_factory.mktemp("traces") / "traces.db"
    result = run_perfdoctor(
        "run", "--traces", str(traces), "--", sys.executable, str(SCRIPT), sqlite_workload
    )
    assert result.returncode == 0, result.stderr
    return traces


def test_indexes_from_traces(sqlite_workload: str, shop_traces: Path) -> None:
    result = run_perfdoctor(
        "indexes",
        "--db",
        sqlite_url(sqlite_workload),
        "--traces",
        str(shop_traces),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    proposed = {(i["table"], tuple(i["columns"])) for i in data["indexes"]}
    assert proposed == {("customers", ("email",)), ("orders", ("customer_id", "created_at"))}
    by_table = {i["table"]: i for i in data["indexes"]}
    helped = by_table["orders"]["queries"][0]
    # The stored statement, placeholders and all: no parameter value reached the store.
    assert helped["sql"].endswith("WHERE customer_id = ? ORDER BY created_at DESC LIMIT ?")
    assert helped["endpoints"] == ["GET /customers/{id}/orders"]
    assert "customers.is_active" in "\n".join(data["skipped_columns"])


def test_explain_from_traces(sqlite_workload: str, shop_traces: Path) -> None:
    result = run_perfdoctor(
        "explain", "--db", sqlite_url(sqlite_workload), "--traces", str(shop_traces)
    )
    assert result.returncode == 0, result.stderr
    assert "full-scan: full scan of orders (200,000 rows)" in result.stdout
    assert "sort-without-index: USE TEMP B-TREE FOR ORDER BY" in result.stdout


def test_report_with_db_adds_missing_index_findings(
    sqlite_workload: str, shop_traces: Path
) -> None:
    result = run_perfdoctor(
        "report",
        "--traces",
        str(shop_traces),
        "--db",
        sqlite_url(sqlite_workload),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    on_orders = findings(report, "missing-index", "GET /customers/{id}/orders")
    assert len(on_orders) == 1
    finding = on_orders[0]
    assert finding["evidence"]["columns"] == ["customer_id", "created_at"]
    assert finding["evidence"]["cost_after"] < finding["evidence"]["cost_before"]
    assert finding["location"]["path"].endswith("shop_script.py")
    assert finding["location"]["line"] == 22  # the conn.execute( of the orders query
    assert "CREATE INDEX ix_orders_customer_id_created_at" in finding["fix"]
    assert findings(report, "missing-index", "GET /customers/{email}")
    assert not findings(report, "missing-index", "GET /stats/active")

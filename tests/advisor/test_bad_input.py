"""Bad input ends in one clear line (exit 2) or a skipped query with its reason: never a
traceback, never a change."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from perfdoctor.cli import main
from tests.advisor import workload
from tests.advisor.conftest import sqlite_url
from tests.conftest import MYSQL_HOST, MYSQL_PORT, free_port, run_perfdoctor


def _one_line_error(args: list[str], expect: str) -> None:
    result = run_perfdoctor(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("perfdoctor: error: ") and expect in lines[0], lines[0]


def test_unreachable_database() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    _one_line_error(["indexes", "--db", url, "--query", "SELECT 1"], "cannot connect to")


def test_wrong_password_on_mariadb(mysql_workload: dict[str, Any]) -> None:
    url = f"mysql://root:wrong-password@{MYSQL_HOST}:{MYSQL_PORT}/{mysql_workload['database']}"
    _one_line_error(["explain", "--db", url, "--query", "SELECT 1"], "Access denied")
    # The password never reaches the message.
    result = run_perfdoctor("explain", "--db", url, "--query", "SELECT 1")
    assert "wrong-password" not in result.stderr


def test_missing_sqlite_file(tmp_path: Any) -> None:
    _one_line_error(
        ["indexes", "--db", f"sqlite:///{tmp_path}/none.db", "--query", "SELECT 1"],
        "no SQLite database at",
    )


def test_unknown_scheme() -> None:
    _one_line_error(["indexes", "--db", "oracle://x/y", "--query", "SELECT 1"], "sqlite:///")


def test_nothing_to_analyse(sqlite_workload: str) -> None:
    _one_line_error(["indexes", "--db", sqlite_url(sqlite_workload)], "nothing to analyse")


def _skipped(url: str, *statements: str) -> dict[str, str]:
    args = ["indexes", "--db", url, "--format", "json"]
    for sql in statements:
        args += ["--query", sql]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return {s["sql"][:40]: s["reason"] for s in data["skipped_queries"]}


def test_bad_statements_are_skipped_with_reasons(sqlite_workload: str) -> None:
    before = workload.checksum_sqlite(sqlite_workload)
    huge = "SELECT id FROM orders WHERE id IN (" + ", ".join(["1"] * 3_500_000) + ")"
    assert len(huge) > 10_000_000
    reasons = _skipped(
        sqlite_url(sqlite_workload),
        "SELEC id FROM orders",
        "SELECT id FROM orders WHERE",
        "DELETE FROM orders",
        "UPDATE customers SET email = 'x'",
        "DROP TABLE orders",
        "SELECT 1; DELETE FROM orders",
        "SELECT * FROM no_such_table WHERE id = 1",
        huge,
    )
    assert (
        "not a SELECT" in reasons["SELEC id FROM orders"]
        or "syntax" in reasons["SELEC id FROM orders"]
    )
    assert "syntax error" in reasons["SELECT id FROM orders WHERE"]
    assert "not a SELECT (DELETE)" in reasons["DELETE FROM orders"]
    assert "not a SELECT (UPDATE)" in reasons["UPDATE customers SET email = 'x'"]
    assert "not a SELECT" in reasons["DROP TABLE orders"]
    assert "not a single statement" in reasons["SELECT 1; DELETE FROM orders"]
    assert "no table no_such_table" in reasons["SELECT * FROM no_such_table WHERE id = 1"]
    assert "advisor_max_statement_bytes" in reasons[huge[:40]]
    assert workload.checksum_sqlite(sqlite_workload) == before


def test_database_refusal_is_a_reason(pg_workload: str) -> None:
    # sqlglot accepts it; PostgreSQL does not: the database's own words become the reason.
    reasons = _skipped(pg_workload, "SELECT no_such_column FROM orders")
    assert "the database refused it" in reasons["SELECT no_such_column FROM orders"]
    assert "no_such_column" in reasons["SELECT no_such_column FROM orders"]


def test_pg_stat_statements_missing_is_one_line(pg_workload: str) -> None:
    _one_line_error(
        ["indexes", "--db", pg_workload, "--pg-stat-statements"], "pg_stat_statements is not"
    )

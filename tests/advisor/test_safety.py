"""The advisor changes nothing: every table's contents and the schema catalog checksum the
same before and after it runs (indexes, both PostgreSQL paths, explain with ANALYZE)."""

from __future__ import annotations

from typing import Any

from tests.advisor import workload
from tests.advisor.conftest import query_args, sqlite_url
from tests.conftest import run_perfdoctor

# A statement that would write if anything ran it, next to the workload's reads.
DML = "DELETE FROM orders WHERE customer_id = 1"


def _run_all(url: str, *extra_runs: tuple[str, ...]) -> None:
    runs = [
        ("indexes", "--db", url, *query_args(), "--query", DML),
        ("explain", "--db", url, *query_args(), "--query", DML),
        *extra_runs,
    ]
    for args in runs:
        result = run_perfdoctor(*args)
        assert "Traceback" not in result.stderr
        if DML in args:  # refused, and said so: a --query the advisor will not run
            assert result.returncode == 2, result.stderr
            assert result.stderr.splitlines() == [
                f"perfdoctor: error: --query {DML!r}: not a SELECT (DELETE): "
                "the advisor only explains reads"
            ]
        else:
            assert result.returncode == 0, result.stderr


def test_sqlite_unchanged(sqlite_workload: str) -> None:
    before = workload.checksum_sqlite(sqlite_workload)
    _run_all(sqlite_url(sqlite_workload))
    assert workload.checksum_sqlite(sqlite_workload) == before


def test_postgres_unchanged(pg_workload: str) -> None:
    before = workload.checksum_postgres(pg_workload)
    _run_all(
        pg_workload,
        ("indexes", "--db", pg_workload, *query_args(), "--no-hypopg", "--allow-locks"),
        ("explain", "--db", pg_workload, *query_args(), "--query", DML, "--analyze"),
    )
    assert workload.checksum_postgres(pg_workload) == before


def test_mariadb_unchanged(mysql_workload: dict[str, Any]) -> None:
    before = workload.checksum_mysql(mysql_workload)
    _run_all(workload.mysql_url(mysql_workload))
    assert workload.checksum_mysql(mysql_workload) == before

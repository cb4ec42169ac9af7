"""Bad input ends in one clear line each (exit 2): a --query that cannot be analysed
included; a stored query that cannot be is listed with its reason. Never a traceback,
never a change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from perfdoctor import store
from perfdoctor.cli import main
from perfdoctor.model import Span, Trace
from tests.advisor import workload
from tests.advisor.conftest import query_args, sqlite_url
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


def _skipped(url: str, *statements: str, command: str = "indexes") -> dict[str, str]:
    """Why each --query was refused: one line on stderr each, exit 2, nothing on stdout
    when no query could be analysed."""
    args = [command, "--db", url, "--format", "json"]
    for sql in statements:
        args += ["--query", sql]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == len(statements), result.stderr
    for line in lines:
        assert line.startswith("perfdoctor: error: --query "), line
    return {sql[:40]: line for sql, line in zip(statements, lines)}


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
    for command in ("indexes", "explain"):
        reasons = _skipped(pg_workload, "SELECT no_such_column FROM orders", command=command)
        assert "the database refused it" in reasons["SELECT no_such_column FROM orders"]
        assert "no_such_column" in reasons["SELECT no_such_column FROM orders"]


def test_explain_names_an_unknown_table_on_postgres(pg_workload: str) -> None:
    reasons = _skipped(pg_workload, "SELECT * FROM no_such_table", command="explain")
    assert reasons["SELECT * FROM no_such_table"].endswith(
        "'SELECT * FROM no_such_table': no table no_such_table in this database"
    )


def test_a_bad_query_next_to_good_ones_still_exits_2(sqlite_workload: str) -> None:
    """The good queries are analysed and shown; the typo is named, and CI sees it."""
    for command in ("explain", "indexes"):
        result = run_perfdoctor(
            command,
            "--db",
            sqlite_url(sqlite_workload),
            *query_args(),
            "--query",
            "SELECT id FROM ordres WHERE id = 1",
            "--format",
            "json",
        )
        assert result.returncode == 2
        assert result.stderr.splitlines() == [
            "perfdoctor: error: --query 'SELECT id FROM ordres WHERE id = 1': "
            "no table ordres in this database"
        ]
        analysed = [q for q in json.loads(result.stdout)["queries"] if "plan" in q]
        assert len(analysed) == len(query_args()) // 2


def test_stored_queries_none_of_which_fit_this_database(
    sqlite_workload: str, tmp_path: Path
) -> None:
    """Queries from another app's store: nothing usable, exit 2; the output would be empty."""
    traces = tmp_path / "traces.db"
    conn = store.open_for_writing(traces)
    statement = "SELECT * FROM invoices WHERE id = ?"
    db = Span("db", 1.0, 2.0, system="sqlite", statement=statement, fingerprint="a" * 16)
    store.write_traces(conn, [Trace("t1", "GET /invoices", "http", 1.0, 5.0, 200, spans=[db])])
    conn.close()
    for command in ("explain", "indexes"):
        args = [command, "--db", sqlite_url(sqlite_workload), "--traces", str(traces)]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert result.stderr == (
            "perfdoctor: error: none of the 1 queries found could be analysed on this database; "
            f"the first, from traces: {statement!r}: no table invoices in this database\n"
        )
        # The same store with a query this database has: fine.
        ok = [*args, "--query", workload.QUERIES[0]]
        assert CliRunner().invoke(main, ok).exit_code == 0


def test_pg_stat_statements_missing_is_one_line(pg_workload: str) -> None:
    _one_line_error(
        ["indexes", "--db", pg_workload, "--pg-stat-statements"], "pg_stat_statements is not"
    )

"""mysqlclient and mysql-connector-python (pure and C extension), captured from the real drivers.

Each statement is one span with its rows, its connection and the user's line,
whatever cursor class sent it; each connection opened is a ``db.connect`` span
with the id its queries carry.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import perfdoctor
from perfdoctor.model import Span, Trace
from tests.capture.apps_support import app_env
from tests.database.driver_support import located_at, one_connection, only
from tests.inprocess import capturing

HERE = Path(__file__).resolve()


_only = only
_one_connection = one_connection


def _at(span: Span, marker: str) -> None:
    located_at(span, HERE, marker)


# --- mysqlclient -----------------------------------------------------------


def test_mysqlclient_rows_batches_and_connections(
    tmp_path: Path, mysql_database: dict[str, Any]
) -> None:
    import MySQLdb
    import MySQLdb.cursors

    assert hasattr(MySQLdb, "_mysql")  # mysqlclient, not PyMySQL under its name
    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("t", "http"):
        conn = MySQLdb.connect(**mysql_database, autocommit=True)  # at: mysqlclient connect
        try:
            cur = conn.cursor()
            cur.execute("CREATE TABLE drv_n (v INT)")
            # One multi-row INSERT for the rows, one UPDATE per row: each is a span.
            cur.executemany("INSERT INTO drv_n VALUES (%s)", [(i,) for i in range(12)])
            cur.executemany("UPDATE drv_n SET v = v WHERE v = %s", [(1,), (2,), (3,)])
            cur.execute("SELECT v FROM drv_n WHERE v < %s", (7,))  # at: mysqlclient select
            assert len(cur.fetchall()) == 7
            dicts = conn.cursor(MySQLdb.cursors.DictCursor)
            dicts.execute("SELECT v FROM drv_n ORDER BY v LIMIT %s, %s", (2, 3))
            assert [r["v"] for r in dicts.fetchall()] == [2, 3, 4]
            unbuffered = conn.cursor(MySQLdb.cursors.SSCursor)
            unbuffered.execute("SELECT v FROM drv_n")
            assert len(unbuffered.fetchall()) == 12
            with pytest.raises(MySQLdb.ProgrammingError):
                cur.execute("SELECT * FROM drv_missing")
        finally:
            conn.close()
    trace = _only(traces)
    _at(_one_connection(trace, "mysql"), "mysqlclient connect")
    spans = trace.db_spans()
    assert [(s.statement, s.rows) for s in spans] == [
        ("CREATE TABLE drv_n (v INT)", None),
        ("INSERT INTO drv_n VALUES (...)", None),
        ("UPDATE drv_n SET v = v WHERE v = ?", None),
        ("UPDATE drv_n SET v = v WHERE v = ?", None),
        ("UPDATE drv_n SET v = v WHERE v = ?", None),
        ("SELECT v FROM drv_n WHERE v < ?", 7),
        ("SELECT v FROM drv_n ORDER BY v LIMIT ?, ?", 3),
        # Unbuffered: the count is not known when execute returns.
        ("SELECT v FROM drv_n", None),
        ("SELECT * FROM drv_missing", None),
    ]
    assert spans[6].attrs["offset"] == 2
    _at(spans[5], "mysqlclient select")


# --- mysql-connector-python --------------------------------------------------

# The C extension of mysql-connector-python links its own OpenSSL 3.2+ and fails to
# load in a process that loaded the system's older one first (``import ssl``,
# which pytest has done): it is tested in a fresh interpreter that imports it first.
CONNECTOR_SCRIPT = Path(__file__).parent / "apps" / "connector_script.py"


def _run_connector(tmp_path: Path, mysql_database: dict[str, Any], pure: bool) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(CONNECTOR_SCRIPT), str(tmp_path / "t.db"), json.dumps(mysql_database),
         "pure" if pure else "c"],
        capture_output=True, text=True, timeout=120, env=app_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {"connection": result.stdout.strip().splitlines()[-1], "trace": _only(tmp_path / "t.db")}


@pytest.mark.parametrize("pure", [True, False], ids=["pure", "c-extension"])
def test_mysql_connector_rows_however_they_are_read(
    tmp_path: Path, mysql_database: dict[str, Any], pure: bool
) -> None:
    run = _run_connector(tmp_path, mysql_database, pure)
    assert run["connection"] == ("MySQLConnection" if pure else "CMySQLConnection")
    trace: Trace = run["trace"]
    _one_connection(trace, "mysql")
    spans = trace.db_spans()
    assert [(s.statement, s.rows) for s in spans] == [
        ("CREATE TABLE drv_n (v INT)", None),
        ("INSERT INTO drv_n VALUES (...)", None),
        ("SELECT v FROM drv_n WHERE v < ?", 5),  # fetchall
        ("SELECT v FROM drv_n WHERE v < ?", 9),  # fetchone, fetchmany, then iteration
        ("SELECT v FROM drv_n WHERE v < ?", 3),  # buffered: counted at execute
        ("SELECT v FROM drv_n WHERE v < ?", 4),  # dictionary rows
        ("SELECT v FROM drv_n WHERE v < ?", 6),  # prepared statement
        ("SELECT v FROM drv_n WHERE v < ?", 0),  # executed, never read
        ("SELECT * FROM drv_missing", None),
    ]
    script = CONNECTOR_SCRIPT.resolve()
    select = spans[2]
    assert select.location is not None and Path(select.location.path).resolve() == script
    marked = [n for n, t in enumerate(script.read_text().splitlines(), 1) if t.endswith("# at: select")]
    assert select.location.line == marked[0]

"""Django on PostgreSQL through psycopg2 and on MariaDB through mysqlclient.

Django prefers psycopg 3 when it can import it (``import psycopg``, then
``import psycopg2`` on ImportError): the PostgreSQL run hides psycopg 3 from the
app's process, as on a machine that has only psycopg2.  Under ``perfdoctor run``
each request is a trace; the N+1 is found at the view's line, its
``select_related`` twin is clean, rows are counted (a PostgreSQL ``.iterator()``
reads a named cursor in chunks) and every query names the connection its
``db.connect`` span opened.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from perfdoctor.model import Trace
from tests.capture.apps_support import app_env, assert_n_plus_one, load, marker_line
from tests.conftest import findings, report_json, run_perfdoctor

SITE = Path(__file__).parent / "apps" / "drvsite"
VIEWS = SITE / "drvshop" / "views.py"
PATHS = ["/books/", "/books/fixed/", "/books/streamed/"]
BOOKS = 24


def _drive(tmp_path: Path, env: dict[str, str]) -> tuple[str, list[Trace], dict[str, Any]]:
    traces = tmp_path / "traces.db"
    result = run_perfdoctor(
        "run", "--traces", str(traces), "--", sys.executable, str(SITE / "drive.py"), *PATHS,
        cwd=tmp_path, env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "perfdoctor:" not in result.stderr, result.stderr
    return result.stdout.strip().splitlines()[-1], load(traces), report_json(traces, cwd=tmp_path)


def _check(tmp_path: Path, system: str, requests: list[Trace], report: dict[str, Any]) -> None:
    [finding] = findings(report, "n-plus-one-query", "GET /books/")
    assert_n_plus_one(
        finding, source=VIEWS, marker="books", count=BOOKS, cwd=tmp_path,
        framework="django", function="books",
    )
    assert "select_related" in finding["fix"]
    for clean in ("GET /books/fixed/", "GET /books/streamed/"):
        assert not findings(report, "n-plus-one-query", clean), report["findings"]
    by_name = {t.name: t for t in requests}
    # Django's test client keeps the connection across requests: it was opened in
    # the script's own trace (the MySQL backend first opens one to read the server's
    # version, and closes it), and every request's queries name the one left open.
    connects = [s for t in requests for s in t.spans if s.kind == "db.connect"]
    assert connects and {s.system for s in connects} == {system}
    used = set()
    for name in ("GET /books/", "GET /books/fixed/", "GET /books/streamed/"):
        spans = by_name[name].db_spans()
        assert spans and {s.system for s in spans} == {system}
        used |= {s.connection_id for s in spans}
    assert used == {connects[-1].connection_id}
    # One query for the books, one per book for its author: rows read, each.
    books = [s for s in by_name["GET /books/"].db_spans() if "drv_book" in (s.statement or "")]
    assert [s.rows for s in books] == [BOOKS]
    streamed = by_name["GET /books/streamed/"]
    [iterated] = [s for s in streamed.db_spans() if "drv_book" in (s.statement or "")]
    assert iterated.rows == BOOKS  # read in chunks of 7, counted as they came
    assert iterated.location is not None
    assert iterated.location.line == marker_line(VIEWS, "streamed")


def test_django_on_postgresql_through_psycopg2(tmp_path: Path, postgres_url: str) -> None:
    url = urlparse(postgres_url)
    env = app_env(
        DRV_BACKEND="postgresql", DRV_HIDE_PSYCOPG="1", DRV_NAME=url.path.lstrip("/"),
        DRV_HOST=url.hostname or "127.0.0.1", DRV_PORT=str(url.port or 5432),
        DRV_USER=url.username or "postgres",
    )
    driver, traces, report = _drive(tmp_path, env)
    assert driver == "psycopg2"
    _check(tmp_path, "postgresql", traces, report)


def test_django_on_mariadb_through_mysqlclient(
    tmp_path: Path, mysql_database: dict[str, Any]
) -> None:
    env = app_env(
        DRV_BACKEND="mysql", DRV_NAME=mysql_database["database"], DRV_HOST=mysql_database["host"],
        DRV_PORT=str(mysql_database["port"]), DRV_USER=mysql_database["user"],
    )
    driver, traces, report = _drive(tmp_path, env)
    assert driver == "MySQLdb"
    _check(tmp_path, "mysql", traces, report)
    # mysqlclient itself, not PyMySQL installed under its name.
    probe = subprocess.run(
        [sys.executable, "-c", "import MySQLdb; print(MySQLdb._mysql.__name__)"],
        capture_output=True, text=True, timeout=60,
    )
    assert probe.stdout.strip() == "MySQLdb._mysql", probe.stderr

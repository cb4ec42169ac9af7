"""``perfdoctor indexes`` asks before a trial build that locks the user's tables.

Without HypoPG a PostgreSQL candidate is tried by a real CREATE INDEX (rolled back),
which holds a SHARE lock on its table: writers wait.  Without ``--allow-locks`` the
advisor builds nothing and says what it would lock; with it the builds run and leave
nothing behind.  An event trigger counts every CREATE INDEX on a real table through
a sequence, which a rollback does not undo: what ran is counted even if it left no trace.
SQLite asks above ``advisor_sqlite_ask_rows``; MySQL/MariaDB never builds at all.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from tests.advisor import workload
from tests.conftest import (
    POSTGRES_ADMIN_URL,
    findings,
    fresh_postgres_database,
    run_perfdoctor,
)

SHOP_SCRIPT = Path(__file__).parent.parent / "advisor" / "apps" / "shop_script.py"

_COUNT_BUILDS = [
    "CREATE SEQUENCE index_builds",
    # SECURITY DEFINER: a session of a role without rights on the sequence counts too.
    "CREATE FUNCTION count_index_builds() RETURNS event_trigger LANGUAGE plpgsql "
    "SECURITY DEFINER AS $$ BEGIN "
    "IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() "
    "WHERE schema_name <> 'pg_temp') THEN PERFORM nextval('index_builds'); END IF; END $$",
    "CREATE EVENT TRIGGER count_index_builds ON ddl_command_end "
    "WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION count_index_builds()",
]


@pytest.fixture(scope="module")
def pg_shop() -> Iterator[tuple[str, str]]:
    """The workload on PostgreSQL, its tables owned by a role that cannot create HypoPG
    (not a trusted extension): (superuser URL, that role's URL)."""
    role = f"pd_locks_{uuid.uuid4().hex[:10]}"
    with contextlib.ExitStack() as stack:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE ROLE "{role}" LOGIN'.encode())
        stack.callback(_drop_role, role)  # after the database, which holds its objects
        url = stack.enter_context(fresh_postgres_database(role))
        workload.build_postgres(url)
        with psycopg.connect(url, autocommit=True) as conn:
            for sql in _COUNT_BUILDS:
                conn.execute(sql.encode())
            # What an app's own role has: its tables, and room for an index beside them.
            conn.execute(f'GRANT CREATE ON SCHEMA public TO "{role}"'.encode())
            for table in ("countries", "customers", "orders"):
                conn.execute(f'ALTER TABLE {table} OWNER TO "{role}"'.encode())
        yield url, url.replace("://postgres@", f"://{role}@")


def _drop_role(role: str) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP ROLE IF EXISTS "{role}"'.encode())


def _pg(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql.encode()).fetchall()


def _builds(url: str) -> int:
    last, called = _pg(url, "SELECT last_value, is_called FROM index_builds")[0]
    return int(last) if called else 0


def _indexes_in(url: str) -> list[tuple[Any, ...]]:
    return _pg(url, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")


def _rows(url: str, table: str) -> str:
    """The table's rows as pg_class.reltuples holds them, written as the message writes them."""
    [(rows,)] = _pg(url, f"SELECT reltuples FROM pg_class WHERE relname = '{table}'")
    return f"{int(rows):,}"


def _query_args(queries: list[str] = workload.QUERIES) -> list[str]:
    return [arg for sql in queries for arg in ("--query", sql)]


def _indexes(url: str, *extra: str, cwd: Path | None = None) -> Any:
    return run_perfdoctor(
        "indexes", "--db", url, *_query_args(), "--format", "json", *extra, cwd=cwd
    )


def _sqlite_indexes(path: str, *extra: str, cwd: Path) -> Any:
    """The two lookups whose indexes are the expected ones: SQLite times every plan by
    running it, so the join and the count would only make the test slower."""
    args = _query_args(workload.QUERIES[:2])
    return run_perfdoctor(
        "indexes", "--db", f"sqlite:///{path}", *args, "--format", "json", *extra, cwd=cwd
    )


def _proposed(data: dict[str, Any]) -> set[tuple[str, tuple[str, ...]]]:
    return {(i["table"], tuple(i["columns"])) for i in data["indexes"]}


@contextlib.contextmanager
def _writer(url: str) -> Iterator[dict[str, int]]:
    """Single-row UPDATEs on both big tables in a loop, each giving up at once on a lock."""
    counts = {"done": 0, "blocked": 0}
    started, stop = threading.Event(), threading.Event()

    def loop() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(b"SET lock_timeout = '1ms'")
            n = 0
            while not stop.is_set():
                table = ("orders", "customers")[n % 2]
                try:
                    conn.execute(f"UPDATE {table} SET id = id WHERE id = {1 + n % 500}".encode())
                    counts["done"] += 1
                except psycopg.errors.LockNotAvailable:
                    counts["blocked"] += 1
                n += 1
                started.set()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    assert started.wait(30)
    try:
        yield counts
    finally:
        stop.set()
        thread.join(30)


def test_without_hypopg_nothing_is_built_and_the_locks_are_named(
    pg_shop: tuple[str, str],
) -> None:
    url, _ = pg_shop
    builds, before = _builds(url), _indexes_in(url)
    with _writer(url) as writes:
        result = _indexes(url, "--no-hypopg")
        during = dict(writes)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("perfdoctor: error: --no-hypopg turns HypoPG off")
    assert "a SHARE lock on its table" in line and "INSERT, UPDATE and DELETE wait" in line
    assert f"orders ({_rows(url, 'orders')} rows, " in line
    assert f"customers ({_rows(url, 'customers')} rows, " in line
    assert re.search(r"orders \([^)]*\) for \d+ builds of ~[\d.]+ m?s each", line), line
    assert "--allow-locks" in line and "drop --no-hypopg" in line
    # No CREATE INDEX ran, not even one rolled back, and no writer ever met a lock.
    assert _builds(url) == builds
    assert _indexes_in(url) == before
    assert during["blocked"] == 0 and during["done"] > 0


def test_allow_locks_builds_and_leaves_nothing(pg_shop: tuple[str, str]) -> None:
    url, _ = pg_shop
    builds, before = _builds(url), _indexes_in(url)
    result = _indexes(url, "--no-hypopg", "--allow-locks")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert _proposed(data) == workload.EXPECTED
    assert {i["method"] for i in data["indexes"]} == {"rolled-back CREATE INDEX"}
    assert _builds(url) - builds >= 3  # a build per candidate, all rolled back
    assert _indexes_in(url) == before


def test_hypopg_that_cannot_be_created_asks_too(pg_shop: tuple[str, str]) -> None:
    url, owner = pg_shop
    builds = _builds(url)
    refused = _indexes(owner)
    assert refused.returncode == 2, refused.stderr
    line = refused.stderr.strip()
    assert "perfdoctor: error: HypoPG " in line and "--allow-locks" in line
    assert re.search(r"HypoPG (cannot be created here \(permission denied|is not installed)", line)
    assert f"orders ({_rows(url, 'orders')} rows" in line
    assert _builds(url) == builds
    allowed = _indexes(owner, "--allow-locks")
    assert allowed.returncode == 0, allowed.stderr
    data = json.loads(allowed.stdout)
    assert _proposed(data) == workload.EXPECTED
    assert {i["method"] for i in data["indexes"]} == {"rolled-back CREATE INDEX"}
    assert _builds(url) > builds


def test_hypopg_and_no_candidates_need_no_permission(pg_shop: tuple[str, str]) -> None:
    url, _ = pg_shop
    builds = _builds(url)
    if _pg(url, "SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'"):
        result = _indexes(url)
        assert result.returncode == 0, result.stderr
        assert {i["method"] for i in json.loads(result.stdout)["indexes"]} == {"hypopg"}
    # A small table gives no candidate: nothing to build, nothing to ask.
    small = run_perfdoctor(
        "indexes", "--db", url, *_query_args([workload.QUERIES[4]]), "--no-hypopg"
    )
    assert small.returncode == 0, small.stderr
    assert "countries: 20 rows" in small.stdout
    assert _builds(url) == builds


# --- SQLite: asked above advisor_sqlite_ask_rows, where a build holds the write lock long ---


@pytest.fixture(scope="module")
def sqlite_shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The workload's SQLite file and a project whose threshold sits between its two big
    tables (customers 100,000 rows, orders 200,000): orders is big there."""
    folder = tmp_path_factory.mktemp("locks")
    path = folder / "shop.db"
    workload.build_sqlite(str(path))
    project = folder / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        "[tool.perfdoctor]\nadvisor_sqlite_ask_rows = 150000\n", encoding="utf-8"
    )
    return str(path), project


@contextlib.contextmanager
def _sqlite_writer(path: str) -> Iterator[None]:
    """Another connection holding the database's write lock."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_sqlite_big_table_asks_and_never_takes_the_write_lock(
    sqlite_shop: tuple[str, Path],
) -> None:
    path, project = sqlite_shop
    before = workload.checksum_sqlite(path)
    with _sqlite_writer(path):
        refused = _sqlite_indexes(path, cwd=project)
        # The builds need the lock the writer holds: once allowed, they fail on it.
        allowed = _sqlite_indexes(path, "--allow-locks", cwd=project)
    assert refused.returncode == 2, refused.stderr
    line = refused.stderr.strip()
    assert "orders has 200,000 rows (advisor_sqlite_ask_rows=150,000)" in line
    assert "the database's write lock" in line and '"database is locked"' in line
    assert "orders (200,000 rows) for 3 builds of ~" in line
    assert allowed.returncode == 0, allowed.stderr
    reasons = [r["reason"] for r in json.loads(allowed.stdout)["rejected"]]
    assert any("database is locked" in r for r in reasons)
    assert workload.checksum_sqlite(path) == before


def test_sqlite_allow_locks_proceeds(sqlite_shop: tuple[str, Path]) -> None:
    """(Under the default threshold the same tables are tried unasked: tests/advisor.)"""
    path, project = sqlite_shop
    before = workload.checksum_sqlite(path)
    allowed = _sqlite_indexes(path, "--allow-locks", cwd=project)
    assert allowed.returncode == 0, allowed.stderr
    data = json.loads(allowed.stdout)
    assert _proposed(data) == workload.EXPECTED
    assert {i["method"] for i in data["indexes"]} == {"rolled-back CREATE INDEX"}
    assert workload.checksum_sqlite(path) == before


def test_report_db_goes_on_without_missing_index_and_says_why(
    sqlite_shop: tuple[str, Path], tmp_path: Path
) -> None:
    path, project = sqlite_shop
    traces = tmp_path / "traces.db"
    ran = run_perfdoctor("run", "--traces", str(traces), "--", sys.executable, str(SHOP_SCRIPT), path)
    assert ran.returncode == 0, ran.stderr
    args = ("report", "--traces", str(traces), "--db", f"sqlite:///{path}", "--format", "json")
    result = run_perfdoctor(*args, cwd=project)
    assert result.returncode == 0, result.stderr
    assert not findings(json.loads(result.stdout), "missing-index")
    assert "perfdoctor: missing-index not checked: orders has 200,000 rows" in result.stderr
    assert "--allow-locks" in result.stderr


# --- MySQL/MariaDB: DDL commits by itself, so the advisor never builds there ---


def test_mariadb_never_changes_schema_or_data(mysql_database: dict[str, Any]) -> None:
    conn = pymysql.connect(**mysql_database, autocommit=True)
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE items (id INT PRIMARY KEY, sku VARCHAR(20) NOT NULL, price INT NOT NULL)"
        )
        cur.execute("INSERT INTO items SELECT seq, CONCAT('sku', seq), seq % 97 FROM seq_1_to_5000")
        cur.execute("ANALYZE TABLE items")
        cur.fetchall()
        cur.execute("CREATE TABLE calls (n INT)")
        # EXPLAIN on MariaDB evaluates such a function: the session must refuse its write.
        cur.execute(
            "CREATE FUNCTION touch() RETURNS INT NOT DETERMINISTIC MODIFIES SQL DATA "
            "BEGIN INSERT INTO calls VALUES (1); RETURN 1; END"
        )

    def schema() -> tuple[Any, ...]:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
                "WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1, 2, 3"
            )
            indexes = cur.fetchall()
            cur.execute("SELECT COUNT(*), SUM(price) FROM items")
            items = cur.fetchall()
            cur.execute("SELECT COUNT(*) FROM calls")
            return indexes, items, cur.fetchall()

    before = schema()
    url = workload.mysql_url(mysql_database)
    queries = ["SELECT id, price FROM items WHERE sku = ?", "SELECT * FROM items WHERE id = touch()"]
    for extra in ((), ("--allow-locks",)):
        result = run_perfdoctor("indexes", "--db", url, *_query_args(queries), "--format", "json", *extra)
        # The refused --query is named (exit 2); the other is still analysed and shown.
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"perfdoctor: error: --query {queries[1]!r}: ")
        data = json.loads(result.stdout)
        assert _proposed(data) == {("items", ("sku",))}
        assert data["indexes"][0]["verified"] is False
        [skipped] = data["skipped_queries"]
        assert "READ ONLY transaction" in skipped["reason"]
    assert schema() == before
    conn.close()

"""Rows fetched, new connections and OFFSETs, captured in-process from real drivers."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import perfdoctor
from perfdoctor.model import Span, Trace
from tests.inprocess import capturing, load


def _only(traces: list[Trace], name: str = "t") -> Trace:
    [trace] = [t for t in traces if t.name == name]
    return trace


def _by_statement(trace: Trace) -> dict[str, Span]:
    return {s.statement or "": s for s in trace.db_spans()}


def test_sqlite_counts_rows_however_they_are_read(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE n (v INTEGER)")
        conn.executemany("INSERT INTO n VALUES (?)", [(i,) for i in range(100)])
        with perfdoctor.trace("t", "http"):
            list(conn.execute("SELECT v FROM n"))  # iteration
            cursor = conn.execute("SELECT v FROM n WHERE v < 30")
            cursor.fetchone()
            cursor.fetchmany(4)
            cursor.fetchall()  # 1 + 4 + 25
            conn.execute("SELECT v FROM n WHERE v < 10").fetchall()
            conn.execute("SELECT v FROM n WHERE v < 0").fetchone()
            conn.execute("UPDATE n SET v = v + 1 WHERE v > 1000")
    spans = _by_statement(_only(load(traces)))
    assert spans["SELECT v FROM n"].rows == 100
    rows = sorted(
        s.rows or 0 for s in _only(load(traces)).db_spans() if "v <" in (s.statement or "")
    )
    assert rows == [0, 10, 30]
    # A statement that returns no rows has no count (not a fetch of zero).
    assert spans["UPDATE n SET v = v + ? WHERE v > ?"].rows is None


def test_sqlite_connections_are_spans(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("t", "http"):
        conn = sqlite3.connect(":memory:")  # the connect line
        conn.execute("SELECT 1").fetchall()
    trace = _only(load(traces))
    [connect] = [s for s in trace.spans if s.kind == "db.connect"]
    assert connect.system == "sqlite"
    assert connect.connection_id == trace.db_spans()[0].connection_id
    assert connect.location is not None and connect.location.path == __file__
    assert connect.location.function == "test_sqlite_connections_are_spans"


def test_the_offset_is_kept_as_a_number_only(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE n (v INTEGER)")
        with perfdoctor.trace("t", "http"):
            conn.execute("SELECT v FROM n LIMIT 10 OFFSET 4000").fetchall()
            conn.execute("SELECT v FROM n WHERE v > ? LIMIT ? OFFSET ?", (3, 10, 2500)).fetchall()
            conn.execute("SELECT v FROM n LIMIT :n OFFSET :o", {"n": 5, "o": 1200}).fetchall()
            # Not an int: nothing is kept.
            conn.execute("SELECT v FROM n LIMIT ? OFFSET ?", (10, "77")).fetchall()
            conn.execute("SELECT v FROM n LIMIT 3").fetchall()
    offsets = [s.attrs.get("offset") for s in _only(load(traces)).db_spans()]
    assert offsets == [4000, 2500, 1200, None, None]


def test_psycopg_rows_and_connections(tmp_path: Path, postgres_url: str) -> None:
    import psycopg

    traces = tmp_path / "t.db"
    with (
        capturing(traces),
        perfdoctor.trace("t", "http"),
        psycopg.connect(postgres_url) as conn,
    ):
        conn.execute("CREATE TABLE n AS SELECT generate_series(1, 40) AS v")
        conn.execute("SELECT v FROM n").fetchall()
        conn.execute("SELECT v FROM n ORDER BY v LIMIT 5 OFFSET %s", (30,)).fetchall()
        with conn.cursor(name="server_side") as cursor:
            cursor.execute("SELECT v FROM n WHERE v > 2")
            cursor.fetchall()
    trace = _only(load(traces))
    [connect] = [s for s in trace.spans if s.kind == "db.connect"]
    assert connect.system == "postgresql"
    spans = _by_statement(trace)
    assert spans["SELECT v FROM n"].rows == 40
    page = spans["SELECT v FROM n ORDER BY v LIMIT ? OFFSET ?"]
    assert (page.rows, page.attrs["offset"]) == (5, 30)
    assert spans["CREATE TABLE n AS SELECT generate_series(?, ?) AS v"].rows is None
    # A server-side cursor's rowcount is not what it will fetch: no count.
    assert spans["SELECT v FROM n WHERE v > ?"].rows is None
    assert {s.connection_id for s in trace.db_spans()} == {connect.connection_id}


def test_pymysql_rows_and_connections(tmp_path: Path, mysql_database: dict[str, Any]) -> None:
    import pymysql

    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("t", "http"):
        conn = pymysql.connect(**mysql_database, autocommit=True)
        try:
            with conn.cursor() as cursor:
                cursor.execute("CREATE TABLE n (v INT)")
                cursor.executemany("INSERT INTO n VALUES (%s)", [(i,) for i in range(12)])
                cursor.execute("SELECT v FROM n WHERE v < %s", (7,))
                cursor.fetchall()
                # MySQL's own paging syntax: LIMIT offset, count.
                cursor.execute("SELECT v FROM n ORDER BY v LIMIT %s, %s", (5, 3))
                cursor.fetchall()
        finally:
            conn.close()
    trace = _only(load(traces))
    [connect] = [s for s in trace.spans if s.kind == "db.connect"]
    assert connect.system == "mysql"
    spans = _by_statement(trace)
    assert spans["SELECT v FROM n WHERE v < ?"].rows == 7
    page = spans["SELECT v FROM n ORDER BY v LIMIT ?, ?"]
    assert (page.rows, page.attrs["offset"]) == (3, 5)
    assert spans["CREATE TABLE n (v INT)"].rows is None


async def _asyncpg_work(url: str) -> None:
    import asyncpg

    with perfdoctor.trace("t", "http"):
        pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE n AS SELECT generate_series(1, 25) AS v")
            await conn.fetch("SELECT v FROM n")
            await conn.fetchrow("SELECT v FROM n WHERE v = $1", 3)
            await conn.executemany("INSERT INTO n VALUES ($1)", [(100,), (101,)])
            statement = await conn.prepare("SELECT v FROM n WHERE v > $1")
            await statement.fetch(20)
            await conn.fetch("SELECT v FROM n ORDER BY v LIMIT 2 OFFSET $1", 1500)
        await pool.close()


def test_asyncpg_queries_rows_and_connections(tmp_path: Path, postgres_url: str) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        asyncio.run(_asyncpg_work(postgres_url))
    trace = _only(load(traces))
    assert [s.system for s in trace.spans if s.kind == "db.connect"] == ["postgresql"]
    spans = _by_statement(trace)
    assert spans["SELECT v FROM n"].rows == 25
    assert spans["SELECT v FROM n WHERE v = ?"].rows == 1
    assert spans["SELECT v FROM n WHERE v > ?"].rows == 7  # 21..25, 100, 101
    assert spans["SELECT v FROM n ORDER BY v LIMIT ? OFFSET ?"].attrs["offset"] == 1500
    assert "INSERT INTO n VALUES (...)" in spans
    # The pool's reset on release is asyncpg's bookkeeping, not the app's.
    assert not any("RESET" in statement.upper() for statement in spans)
    assert not any(s.attrs.get("blocks_event_loop") for s in trace.spans)
    assert all(s.location and s.location.path == __file__ for s in trace.spans)


async def _aiosqlite_work(path: Path) -> None:
    import aiosqlite

    with perfdoctor.trace("t", "http"):
        async with aiosqlite.connect(path) as db:
            await db.execute("CREATE TABLE n (v INTEGER)")
            await db.executemany("INSERT INTO n VALUES (?)", [(i,) for i in range(50)])
            async with db.execute("SELECT v FROM n") as cursor:
                async for _row in cursor:
                    pass
            cursor = await db.execute("SELECT v FROM n WHERE v < ?", (5,))
            await cursor.fetchall()
            await db.execute_fetchall("SELECT v FROM n WHERE v < 3")


def test_aiosqlite_queries_land_once_in_the_request(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        asyncio.run(_aiosqlite_work(tmp_path / "a.sqlite"))
    loaded = load(traces)
    trace = _only(loaded)
    assert len(loaded) == 1  # nothing from aiosqlite's worker thread
    statements = [s.statement for s in trace.db_spans()]
    assert statements == [
        "CREATE TABLE n (v INTEGER)",
        "INSERT INTO n VALUES (...)",
        "SELECT v FROM n",
        "SELECT v FROM n WHERE v < ?",
        "SELECT v FROM n WHERE v < ?",
    ]
    assert [s.rows for s in trace.db_spans()] == [None, None, 50, 5, 3]
    assert [s.system for s in trace.spans if s.kind == "db.connect"] == ["sqlite"]
    assert not any(s.attrs.get("blocks_event_loop") for s in trace.spans)
    assert all(s.location and s.location.path == __file__ for s in trace.spans)


def test_a_sync_driver_inside_a_running_loop_is_marked(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"

    async def handler() -> None:
        with perfdoctor.trace("t", "http"):
            conn = sqlite3.connect(":memory:")
            conn.execute("SELECT 1").fetchall()

    with capturing(traces):
        asyncio.run(handler())
    trace = _only(load(traces))
    assert all(s.attrs.get("blocks_event_loop") for s in trace.spans)
    assert {s.kind for s in trace.spans} == {"db", "db.connect"}


@pytest.mark.parametrize("sql", ["SELECT 1 -- offset", "SELECT 'OFFSET ?'"])
def test_offset_words_that_are_not_an_offset_clause_keep_nothing(tmp_path: Path, sql: str) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = sqlite3.connect(":memory:")
        with perfdoctor.trace("t", "http"):
            conn.execute(sql).fetchall()
    [span] = _only(load(traces)).db_spans()
    assert "offset" not in span.attrs


def test_a_statement_built_anew_for_each_query_is_kept_once_per_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ORM builds its SQL string again for every query (Django does): a request's
    spans share the first string of each text instead of each keeping its own until
    the request ends, and the statements read back are the same."""
    from perfdoctor.capture import context

    traces = tmp_path / "t.db"
    finished: list[Any] = []
    with capturing(traces):
        handler = context.state.on_finish
        assert handler is not None

        def keep(trace: Any) -> None:
            finished.append(trace)
            handler(trace)

        monkeypatch.setattr(context.state, "on_finish", keep)
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE n (v INTEGER)")
        with perfdoctor.trace("t", "http"):
            for value in range(200):
                sql = " ".join(["SELECT", "v", "FROM", "n", "WHERE", "v", "=", "?"])
                conn.execute(sql, (value,)).fetchall()
            conn.execute(" ".join(["SELECT v FROM n LIMIT ? OFFSET ?"]), (5, 300)).fetchall()
    [active] = [t for t in finished if t.name == "t"]
    selects = [span for span in active.spans if span[0] == "db" and "WHERE" in span[6]]
    assert len(selects) == 200 and len({id(span[6]) for span in selects}) == 1
    spans = _only(load(traces)).db_spans()
    assert {s.statement for s in spans[:200]} == {"SELECT v FROM n WHERE v = ?"}
    assert spans[200].attrs.get("offset") == 300

"""psycopg2, captured in process from the real driver.

Each statement is one span with its rows, its connection and the user's line,
whatever cursor class or helper sent it (the dict and named-tuple cursors,
``execute_values``, ``execute_batch``, a named cursor); each connection opened
is a ``db.connect`` span with the id its queries carry.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import perfdoctor
from perfdoctor.model import Span
from tests.database.driver_support import located_at, one_connection, only
from tests.inprocess import capturing

HERE = Path(__file__).resolve()


_only = only
_one_connection = one_connection


def _at(span: Span, marker: str) -> None:
    located_at(span, HERE, marker)


# --- psycopg2 ---------------------------------------------------------------


def test_psycopg2_cursors_helpers_and_factories(tmp_path: Path, postgres_url: str) -> None:
    import psycopg2
    import psycopg2.extras

    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("t", "http"):
        conn = psycopg2.connect(postgres_url)  # at: pg2 connect
        try:
            cur = conn.cursor()
            cur.execute("CREATE TABLE drv_n AS SELECT generate_series(1, 40) AS v")
            cur.execute("SELECT v FROM drv_n WHERE v > %s", (10,))  # at: pg2 select
            assert len(cur.fetchall()) == 30
            # 250 rows, 100 a page: three statements, each sent once.
            many = [(i,) for i in range(250)]
            psycopg2.extras.execute_values(cur, "INSERT INTO drv_n VALUES %s", many)  # at: pg2 values
            psycopg2.extras.execute_batch(cur, "INSERT INTO drv_n (v) VALUES (%s)", many[:150])
            cur.executemany("INSERT INTO drv_n (v) VALUES (%s)", [(1,), (2,)])  # at: pg2 many
            factories = (
                psycopg2.extras.RealDictCursor,
                psycopg2.extras.DictCursor,
                psycopg2.extras.NamedTupleCursor,
            )
            for limit, factory in enumerate(factories, start=3):
                with conn.cursor(cursor_factory=factory) as typed:
                    typed.execute("SELECT v FROM drv_n ORDER BY v LIMIT %s", (limit,))
                    rows = typed.fetchall()
                    assert len(rows) == limit
            assert dict(rows[0]._asdict()) == {"v": 0}  # still the driver's own row type
            conn.commit()
        finally:
            conn.close()
    trace = _only(traces)
    _at(_one_connection(trace, "postgresql"), "pg2 connect")
    spans = trace.db_spans()
    select = [s for s in spans if s.statement == "SELECT v FROM drv_n WHERE v > ?"]
    assert [s.rows for s in select] == [30]
    _at(select[0], "pg2 select")
    values = [s for s in spans if s.statement == "INSERT INTO drv_n VALUES (...)"]
    assert len(values) == 3
    for span in values:
        _at(span, "pg2 values")
    batch = [s for s in spans if (s.statement or "").startswith("INSERT INTO drv_n (v) VALUES")]
    assert len(batch) == 3  # execute_batch's two pages, then executemany
    _at(batch[-1], "pg2 many")
    limits = [s.rows for s in spans if s.statement == "SELECT v FROM drv_n ORDER BY v LIMIT ?"]
    assert limits == [3, 4, 5]  # one span per execute through each factory
    assert all(s.system == "postgresql" for s in spans)
    assert len(spans) == 1 + 1 + 3 + 3 + 3


def test_psycopg2_named_cursors_count_the_rows_they_fetch(
    tmp_path: Path, postgres_url: str
) -> None:
    import psycopg2
    import psycopg2.extras

    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = psycopg2.connect(postgres_url)
        conn.cursor().execute("CREATE TABLE drv_big AS SELECT generate_series(1, 500) AS v")
        with perfdoctor.trace("t", "http"):
            with conn.cursor("drv_iterated") as named:
                named.itersize = 64
                named.execute("SELECT v FROM drv_big WHERE v <= %s", (300,))  # at: pg2 named
                assert sum(1 for _ in named) == 300
            with conn.cursor("drv_chunked", cursor_factory=psycopg2.extras.RealDictCursor) as dicts:
                dicts.execute("SELECT v FROM drv_big WHERE v BETWEEN 1 AND 120")
                dicts.fetchone()
                dicts.fetchmany(19)
                assert len(dicts.fetchall()) == 100
        conn.close()
    trace = _only(traces)
    spans = {s.statement: s for s in trace.db_spans()}
    iterated = spans["SELECT v FROM drv_big WHERE v <= ?"]
    _at(iterated, "pg2 named")
    # Only the DECLARE is a span; its FETCHes are the rows, not more statements.
    assert len(trace.db_spans()) == 2
    assert iterated.rows == 300
    assert [s.rows for s in trace.db_spans()] == [300, 120]
    # Opened before the trace: no connect span, the same connection throughout.
    assert not [s for s in trace.spans if s.kind == "db.connect"]
    assert len({s.connection_id for s in trace.db_spans()}) == 1


def test_psycopg2_keeps_a_connection_factory_and_lets_errors_through(
    tmp_path: Path, postgres_url: str
) -> None:
    import psycopg2
    import psycopg2.extras

    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("t", "http"):
        conn = psycopg2.connect(postgres_url, connection_factory=psycopg2.extras.DictConnection)
        assert isinstance(conn, psycopg2.extras.DictConnection)
        cur = conn.cursor()
        assert isinstance(cur, psycopg2.extras.DictCursor)
        cur.execute("SELECT 7 AS seven")
        assert cur.fetchone()["seven"] == 7
        with pytest.raises(psycopg2.errors.UndefinedTable):
            cur.execute("SELECT * FROM drv_missing")
        conn.close()
    spans = _only(traces).db_spans()
    assert [(s.statement, s.rows) for s in spans] == [
        ("SELECT ? AS seven", 1),
        ("SELECT * FROM drv_missing", None),
    ]

"""``--sample-tail summary`` through the real drivers: in a request the head draw left out,
psycopg 3, psycopg2, PyMySQL and redis-py record nothing; in a drawn one, every call.

Every request here counts as slow, so the tail rule keeps them all, as summaries when
not drawn: what each recorded can be read back from the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import perfdoctor
from perfdoctor.capture import context
from perfdoctor.capture import sampling as capture_sampling
from tests.inprocess import capturing, load


@contextmanager
def _summary_tail(traces: Path) -> Iterator[Callable[[bool], None]]:
    """Capture with the summary tail; the returned switch decides the next draws."""
    with capturing(traces):
        capture_sampling.configure(0.5, slow_ms=0.0, tail="summary")
        try:

            def draw(drawn: bool) -> None:
                context.state.sample_draw = (lambda: 0.0) if drawn else (lambda: 1.0)

            yield draw
        finally:
            capture_sampling.configure(1.0, 500.0)


def _both(traces: Path, work: Callable[[], None]) -> dict[bool, list[str]]:
    """``work`` in an undrawn request, then in a drawn one: each one's span kinds."""
    with _summary_tail(traces) as draw:
        for drawn in (False, True):
            draw(drawn)
            with perfdoctor.trace(f"GET /{'drawn' if drawn else 'left-out'}", "http"):
                work()
    found = {t.name: t for t in load(traces) if t.kind == "http"}
    left_out, drawn_trace = found["GET /left-out"], found["GET /drawn"]
    assert left_out.attrs["sample"]["summary"] is True
    assert "summary" not in drawn_trace.attrs["sample"]
    return {
        False: [s.kind for s in left_out.spans],
        True: [s.kind for s in drawn_trace.spans],
    }


def test_psycopg(tmp_path: Path, postgres_url: str) -> None:
    import psycopg

    def work() -> None:
        with psycopg.connect(postgres_url) as conn:
            conn.execute("SELECT 1").fetchall()
            conn.execute("SELECT %s::int", (2,)).fetchall()

    kinds = _both(tmp_path / "t.db", work)
    assert kinds[False] == []
    assert kinds[True].count("db") == 2 and "db.connect" in kinds[True]


def _select_one(conn: Any) -> None:
    """A DB-API connection's one query, then closed."""
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchall()
    finally:
        conn.close()


def test_psycopg2(tmp_path: Path, postgres_url: str) -> None:
    import psycopg2

    kinds = _both(tmp_path / "t.db", lambda: _select_one(psycopg2.connect(postgres_url)))
    assert kinds[False] == []
    assert kinds[True].count("db") == 1


def test_pymysql(tmp_path: Path, mysql_database: dict[str, Any]) -> None:
    import pymysql

    def work() -> None:
        _select_one(pymysql.connect(**mysql_database, autocommit=True))

    kinds = _both(tmp_path / "t.db", work)
    assert kinds[False] == []
    assert kinds[True].count("db") == 1


def test_redis(tmp_path: Path, redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)

    def work() -> None:
        client.set("pd-sample-tail", "1")
        client.get("pd-sample-tail")

    try:
        kinds = _both(tmp_path / "t.db", work)
    finally:
        client.delete("pd-sample-tail")
        client.close()
    assert kinds[False] == []
    assert kinds[True].count("cache") == 2

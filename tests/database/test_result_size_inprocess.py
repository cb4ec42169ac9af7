"""unbounded-query, select-star and large-offset on plain sqlite3 queries, in-process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.model import Finding
from perfdoctor.settings import Settings
from tests.inprocess import capturing, load


def _run(tmp_path: Path, *statements: str) -> list[Finding]:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE event (id INTEGER PRIMARY KEY, kind TEXT, payload TEXT)")
        conn.executemany(
            "INSERT INTO event (kind, payload) VALUES (?, ?)",
            [(f"k{i % 7}", "x" * 200) for i in range(3000)],
        )
        with perfdoctor.trace("GET /events", "http"):
            for statement in statements:
                conn.execute(statement).fetchall()
    return analyze(load(traces), Settings()).findings


def _ids(found: list[Finding]) -> list[str]:
    return sorted(f.id for f in found if f.id in {"unbounded-query", "select-star", "large-offset"})


def test_select_star_of_every_row_is_unbounded_and_loads_every_column(tmp_path: Path) -> None:
    found = _run(tmp_path, "SELECT * FROM event")
    assert _ids(found) == ["select-star", "unbounded-query"]
    unbounded = next(f for f in found if f.id == "unbounded-query")
    assert unbounded.evidence["rows"] == 3000
    assert unbounded.severity == "warning"
    assert unbounded.location is not None and unbounded.location.path.endswith(
        "test_result_size_inprocess.py"
    )
    assert "fetchmany" in unbounded.fix  # plain driver: no ORM advice
    star = next(f for f in found if f.id == "select-star")
    assert star.evidence["columns"] == "*"
    assert "SELECT *" in star.fix


def test_named_columns_a_limit_and_an_aggregate_are_clean(tmp_path: Path) -> None:
    found = _run(
        tmp_path,
        "SELECT id, kind FROM event ORDER BY id LIMIT 50",
        "SELECT kind, count(*) FROM event GROUP BY kind",
        "SELECT count(*) FROM event",
        # A LIMIT in a subquery does not bound the outer query, but 3000 ids of
        # two columns is not select-star.
        "SELECT id, kind FROM event WHERE id NOT IN (SELECT id FROM event LIMIT 1)",
    )
    assert _ids(found) == ["unbounded-query"]
    [unbounded] = [f for f in found if f.id == "unbounded-query"]
    assert "NOT IN" in unbounded.evidence["statement"]


def test_a_deep_offset_is_found_and_keyset_paging_is_clean(tmp_path: Path) -> None:
    found = _run(
        tmp_path,
        "SELECT id, kind FROM event ORDER BY id LIMIT 20 OFFSET 2400",
        "SELECT id, kind FROM event WHERE id > 2400 ORDER BY id LIMIT 20",
        "SELECT id, kind FROM event ORDER BY id LIMIT 20 OFFSET 40",
    )
    [offset] = [f for f in found if f.id == "large-offset"]
    assert offset.evidence["offset"] == 2400
    assert offset.evidence["rows"] == 20
    assert offset.evidence["table"] == "event"
    assert "WHERE id > ?" in offset.fix


def test_thresholds_are_settings(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE n (v INTEGER)")
        conn.executemany("INSERT INTO n VALUES (?)", [(i,) for i in range(300)])
        with perfdoctor.trace("GET /n", "http"):
            conn.execute("SELECT * FROM n").fetchall()
            conn.execute("SELECT v FROM n LIMIT 5 OFFSET 200").fetchall()
    loaded = load(traces)
    assert _ids(analyze(loaded, Settings()).findings) == []
    strict = Settings(unbounded_query_min_rows=100, select_star_min_rows=100, large_offset_min=100)
    assert _ids(analyze(loaded, strict).findings) == [
        "large-offset",
        "select-star",
        "unbounded-query",
    ]

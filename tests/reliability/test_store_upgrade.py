"""Schema 4 spans values: an older store keeps working, the spans view keeps its rows."""

from __future__ import annotations

import json
import math
import random
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from perfdoctor import store
from perfdoctor.errors import StoreError
from perfdoctor.model import Location, Span, Trace
from perfdoctor.store import layout

# What perfdoctor 0.1 (schema 3) created: its SQL, word for word.
SCHEMA_3 = """
CREATE TABLE IF NOT EXISTS traces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    started_at REAL NOT NULL,
    duration_ms REAL NOT NULL,
    status INTEGER,
    pid INTEGER,
    cpu_ms REAL,
    attrs TEXT NOT NULL DEFAULT '{}',
    spans TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS stacks (
    id TEXT PRIMARY KEY,
    frames TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS statements (
    fingerprint TEXT PRIMARY KEY,
    statement TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_name ON traces(name);
CREATE VIEW IF NOT EXISTS spans AS SELECT traces.id AS trace_id, CAST(span.key AS INTEGER) AS seq,
json_extract(span.value, '$[0]') AS kind, json_extract(span.value, '$[1]') AS start_ms,
json_extract(span.value, '$[2]') AS duration_ms, json_extract(span.value, '$[3]') AS framework,
json_extract(span.value, '$[4]') AS system, json_extract(span.value, '$[5]') AS fingerprint,
json_extract(span.value, '$[6]') AS params_digest, json_extract(span.value, '$[7]') AS rows,
json_extract(span.value, '$[8]') AS connection_id, json_extract(span.value, '$[9]') AS stack_id,
json_extract(span.value, '$[10]') AS attrs FROM traces, json_each(traces.spans) AS span;
PRAGMA journal_mode = WAL;
PRAGMA user_version = 3;
"""
VIEW = "SELECT * FROM spans ORDER BY trace_id, seq"
LOOP = Location("/app/views.py", 42, "article_list")
PARENT = Location("/app/views.py", 40, "article_list")
STATEMENTS = {"f1": "SELECT * FROM article", "f2": "SELECT * FROM author WHERE id = ?"}


def _spans() -> list[Span]:
    """A request's spans: a connect, a parent query, an N+1 of 12, an outbound call."""
    spans = [
        Span("db.connect", 0.1234567, 0.2, stack=[PARENT], location=PARENT,
             framework="django", system="sqlite", connection_id=140234234234),
        Span("db", 0.51, 1.3333333, stack=[PARENT], location=PARENT, framework="django",
             system="sqlite", statement=STATEMENTS["f1"], fingerprint="f1",
             params_digest="d0", rows=12, connection_id=140234234234, attrs={"offset": 0}),
    ]
    for i in range(12):
        spans.append(
            Span("db", 2.0 + i * 0.25, 0.1111111, stack=[LOOP, PARENT], location=LOOP,
                 framework="django", system="sqlite", statement=STATEMENTS["f2"],
                 fingerprint="f2", params_digest=f"p{i}", rows=1, connection_id=140234234234,
                 attrs={"trigger": {"kind": "django-template", "template": "list.html"}})
        )
    spans.append(Span("http", 5.5, 20.25, stack=[PARENT], location=PARENT, system="requests",
                      attrs={"method": "GET", "status": 200, "timeout": None}))
    return spans


def _trace(i: int) -> Trace:
    return Trace(id=f"t{i}", name="GET /articles", kind="http", started_at=1000.0 + i,
                 duration_ms=30.5, status=200, pid=7, cpu_ms=12.0, spans=_spans(),
                 attrs={"framework": "django", "response": {"bytes": 10}})


def _schema3_row(trace: Trace) -> tuple[Any, ...]:
    rows = [
        [s.kind, s.start_ms, s.duration_ms, s.framework, s.system, s.fingerprint,
         s.params_digest, s.rows, s.connection_id,
         store.content_id(store.stack_json(s.stack)) if s.stack else None,
         json.dumps(s.attrs) if s.attrs else None]
        for s in trace.spans
    ]
    return (trace.id, trace.name, trace.kind, trace.started_at, trace.duration_ms, trace.status,
            trace.pid, trace.cpu_ms, json.dumps(trace.attrs), json.dumps(rows))


def _schema3_store(path: Path, traces: list[Trace], damaged: bool = False) -> None:
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.executescript(SCHEMA_3)
        for stack in ([PARENT], [LOOP, PARENT]):
            frames = store.stack_json(stack)
            db.execute("INSERT INTO stacks VALUES (?, ?)", (store.content_id(frames), frames))
        db.executemany("INSERT INTO statements VALUES (?, ?)", STATEMENTS.items())
        db.executemany("INSERT INTO traces VALUES (?,?,?,?,?,?,?,?,?,?)",
                       [_schema3_row(t) for t in traces])
        if damaged:
            db.execute("INSERT INTO traces VALUES ('bad', 'GET /x', 'http', 1.0, 1.0, 200, 1, "
                       "NULL, '{}', '[[\"db\", 0.1, ')")


def _view_rows(trace: Trace) -> list[tuple[Any, ...]]:
    """What the spans view gives for ``trace``: schema 3's columns."""
    return [
        (trace.id, seq, s.kind, s.start_ms, s.duration_ms, s.framework, s.system, s.fingerprint,
         s.params_digest, s.rows, s.connection_id,
         store.content_id(store.stack_json(s.stack)) if s.stack else None,
         s.attrs or None)
        for seq, s in enumerate(trace.spans)
    ]


def _comparable(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # Times to the µs the store keeps; attrs as data, whatever their JSON spacing.
    return [
        (*r[:3], round(r[3], 3), round(r[4], 3), *r[5:12],
         json.loads(r[12]) if isinstance(r[12], str) else r[12])
        for r in rows
    ]


def _same_spans(loaded: list[Span], expected: list[Span]) -> None:
    assert len(loaded) == len(expected)
    for got, want in zip(loaded, expected):
        assert math.isclose(got.start_ms, want.start_ms, abs_tol=0.0005)
        assert math.isclose(got.end_ms, want.end_ms, abs_tol=0.0005)
        for name in ("kind", "location", "stack", "framework", "system", "statement",
                     "fingerprint", "params_digest", "rows", "connection_id", "attrs"):
            assert getattr(got, name) == getattr(want, name), name


def test_a_schema_3_store_is_read_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _schema3_store(path, [_trace(1)])
    [loaded] = store.load_traces(path)
    assert loaded.spans == _spans()  # exactly: schema 3 kept float milliseconds
    assert loaded.attrs == _trace(1).attrs
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 3  # reading changed nothing


def test_opening_a_schema_3_store_for_writing_upgrades_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _schema3_store(path, [_trace(1), _trace(2)])
    with closing(sqlite3.connect(path)) as db:
        before = db.execute(VIEW).fetchall()
    assert _comparable(before) == _comparable(_view_rows(_trace(1)) + _view_rows(_trace(2)))

    conn = store.open_for_writing(path)
    store.write_traces(conn, [_trace(3)])
    conn.close()

    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        values = [json.loads(v) for (v,) in db.execute("SELECT spans FROM traces")]
        after = db.execute(VIEW).fetchall()
        # compacted once, and from now on gives pages back as retention frees them
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
        assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert all(isinstance(v, dict) for v in values)
    expected = [_trace(1), _trace(2), _trace(3)]
    assert _comparable(after) == _comparable([r for t in expected for r in _view_rows(t)])
    loaded = store.load_traces(path)
    assert [t.id for t in loaded] == ["t1", "t2", "t3"]
    for trace in loaded:
        _same_spans(trace.spans, _spans())
        assert trace.attrs == _trace(1).attrs


def test_an_unreadable_value_does_not_stop_the_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _schema3_store(path, [_trace(1)], damaged=True)
    store.open_for_writing(path).close()
    with closing(sqlite3.connect(path)) as db:
        values = dict(db.execute("SELECT id, spans FROM traces"))
    assert values["bad"] == '[["db", 0.1, '  # left as it was, for readers to skip
    assert json.loads(values["t1"])["spans"]


def test_a_store_older_than_schema_3_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _schema3_store(path, [_trace(1)])
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version = 2")
    with pytest.raises(StoreError, match="older perfdoctor"):
        store.open_for_writing(path)
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT spans FROM traces").fetchone()[0].startswith("[")


def test_the_spans_view_lays_out_new_stores_as_before(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    conn = store.open_for_writing(path)
    store.write_traces(conn, [_trace(1), _trace(2)])
    conn.close()
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute(VIEW).fetchall()
        [(count,)] = db.execute(
            "SELECT count(*) FROM spans WHERE kind = 'db' AND stack_id IS NOT NULL"
        ).fetchall()
    assert _comparable(rows) == _comparable(_view_rows(_trace(1)) + _view_rows(_trace(2)))
    assert count == 2 * 13


def test_a_loop_of_queries_stores_its_shape_once() -> None:
    batch = store.batch_of([_trace(1)])
    value = json.loads(batch.traces[0][9])
    # connect, parent query, the loop's 12 queries, the outbound call
    assert len(value["shapes"]) == 4 and len(value["spans"]) == 15
    schema3 = json.dumps(json.loads(_schema3_row(_trace(1))[9]))
    assert len(batch.traces[0][9]) < len(schema3) / 2


def test_attributes_that_are_not_json_numbers_keep_the_value_json(tmp_path: Path) -> None:
    trace = _trace(1)
    trace.spans[0].attrs = {"ttl": float("inf"), "ratio": float("nan")}
    path = tmp_path / "t.db"
    conn = store.open_for_writing(path)
    store.write_traces(conn, [trace])
    conn.close()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT json_valid(spans) FROM traces").fetchone()[0] == 1
        attrs = db.execute("SELECT attrs FROM spans WHERE seq = 0").fetchone()[0]
    assert json.loads(attrs) == {"ttl": "inf", "ratio": "nan"}


def test_rounding_to_microseconds_keeps_spans_apart() -> None:
    # A span that ended before the next began still does, once both are stored.
    rng = random.Random(7)
    for _ in range(20_000):
        start = rng.uniform(0, 50)
        first = rng.uniform(0, 0.01)
        gap = rng.choice([0.0, rng.uniform(0, 0.002)])
        a_start, a_duration = layout.micros(start, first, 1e3)
        b_start, _ = layout.micros(start + first + gap, 0.1, 1e3)
        assert a_start + a_duration <= b_start

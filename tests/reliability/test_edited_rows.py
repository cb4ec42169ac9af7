"""A store edited by hand (it is a plain SQLite file): a row that does not decode,
or holds a value of the wrong type, is skipped and counted; the rest is read."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from perfdoctor import store
from perfdoctor.model import Trace
from perfdoctor.orm.catalog import Catalog
from perfdoctor.store import layout
from tests.reliability.damaged_stores import (
    ARTICLES,
    expected_requests,
    report,
    trace_ids,
)

Edit = Callable[[sqlite3.Connection, str], None]
Change = Callable[[list[object]], list[object]]


def _set(column: str, value: object) -> Edit:
    def edit(conn: sqlite3.Connection, trace_id: str) -> None:
        conn.execute(f"UPDATE traces SET {column} = ? WHERE id = ?", (value, trace_id))

    return edit


def _first_span(row: Change | None = None, shape: Change | None = None) -> Edit:
    """Change the first span's row (its times, parameters digest and rows) or its
    shape (kind, statement, stack, attrs...: the first span's own, in these traces)."""

    def edit(conn: sqlite3.Connection, trace_id: str) -> None:
        (text,) = conn.execute("SELECT spans FROM traces WHERE id = ?", (trace_id,)).fetchone()
        value = json.loads(text)
        first = value["spans"][0]
        if shape is not None:
            value["shapes"][first[0]] = shape(list(value["shapes"][first[0]]))
        if row is not None:
            value["spans"][0] = row(list(first))
        _set("spans", json.dumps(value))(conn, trace_id)

    return edit


def _field(names: tuple[str, ...], name: str, value: object) -> Change:
    def change(fields: list[object]) -> list[object]:
        fields = fields + [None] * (len(names) - len(fields))  # trailing nulls are left out
        fields[names.index(name)] = value
        return fields

    return change


def _row_field(name: str, value: object) -> Change:
    return _field(layout.ROW_FIELDS, name, value)


def _shape_field(name: str, value: object) -> Change:
    return _field(layout.SHAPE_FIELDS, name, value)


TRACE_EDITS: dict[str, Edit] = {
    "bad JSON in spans": _set("spans", '[["db", 0.5, '),
    "bad JSON in attrs": _set("attrs", '{"route": '),
    "attrs a list": _set("attrs", "[1, 2]"),
    "spans a blob": _set("spans", b"\xff\xfe"),
    "text duration": _set("duration_ms", "slow"),
    "text start": _set("started_at", "yesterday"),
    "text status": _set("status", "ok"),
    "a span's attrs not an object": _first_span(shape=_shape_field("attrs", '{"trigger": ')),
    "text duration in a span": _first_span(_row_field("duration_us", "12 ms")),
    "a list for a span's rows": _first_span(_row_field("rows", [1, 2])),
    "a span row with its duration missing": _first_span(lambda row: row[:2]),
    "a span row with a field too many": _first_span(lambda row: [*_row_field("rows", 1)(row), 0]),
    "a span naming a shape that is not there": _first_span(_row_field("shape", 99)),
    "a span shape with a field too many": _first_span(
        shape=lambda shape: [*_shape_field("attrs", {})(shape), None]
    ),
}


def _edit(traces: Path, *edits: tuple[Edit, str]) -> None:
    with closing(sqlite3.connect(traces)) as conn, conn:
        for edit, trace_id in edits:
            edit(conn, trace_id)


def _articles(traces: Path) -> list[str]:
    return [trace_id for trace_id, name in trace_ids(traces).items() if name == ARTICLES]


@pytest.mark.parametrize("edit", TRACE_EDITS.values(), ids=TRACE_EDITS.keys())
def test_an_edited_trace_row_is_skipped_and_counted(traces: Path, edit: Edit) -> None:
    ids = trace_ids(traces)
    victim = _articles(traces)[1]
    _edit(traces, (edit, victim))
    loaded = store.read_traces(traces)
    assert {t.id for t in loaded.traces} == set(ids) - {victim}
    assert loaded.damage.counts() == {"traces": 1, "stacks": 0, "statements": 0, "orm_catalogs": 0}


def test_an_untouched_store_counts_nothing(traces: Path) -> None:
    loaded = store.read_traces(traces)
    assert {t.id for t in loaded.traces} == set(trace_ids(traces))
    assert not any(loaded.damage.counts().values()) and loaded.damage.line() is None


def test_a_stack_id_that_points_nowhere_keeps_the_trace_without_a_call_site(
    traces: Path,
) -> None:
    victim = _articles(traces)[1]
    _edit(traces, (_first_span(shape=_shape_field("stack_id", "0123456789abcdef")), victim))
    loaded = store.read_traces(traces)
    assert {t.id for t in loaded.traces} == set(trace_ids(traces))
    [trace] = [t for t in loaded.traces if t.id == victim]
    assert trace.spans[0].location is None and trace.spans[1].location is not None
    # A dangling id is not a damaged row: nothing was skipped.
    assert not any(loaded.damage.counts().values())


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("stacks", "frames", "[[\"app.py\", 12"),
        ("stacks", "frames", b"\xff"),
        ("stacks", "frames", '[["app.py", "twelve", "view"]]'),
        ("statements", "statement", b"\xff"),
    ],
)
def test_an_edited_stack_or_statement_row_is_counted_and_its_spans_go_without(
    traces: Path, table: str, column: str, value: object
) -> None:
    with closing(sqlite3.connect(traces)) as conn, conn:
        conn.execute(f"UPDATE {table} SET {column} = ?", (value,))
        (rows,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    loaded = store.read_traces(traces)
    assert {t.id for t in loaded.traces} == set(trace_ids(traces))
    assert loaded.damage.counts() == {
        "traces": 0,
        "stacks": rows if table == "stacks" else 0,
        "statements": rows if table == "statements" else 0,
        "orm_catalogs": 0,
    }
    noun = "call stack" if table == "stacks" else "statement"
    assert str(loaded.damage.line()).startswith(f"{rows} {noun}{'s' if rows > 1 else ''} damaged in")
    db = [s for t in loaded.traces for s in t.db_spans()]
    if table == "stacks":
        assert db and all(s.location is None for s in db)
    else:
        assert db and all(s.statement is None for s in db)


def test_an_edited_orm_catalog_is_counted_and_its_trace_kept(traces: Path) -> None:
    # A catalog of its own: parsed catalogs are kept per content id in this process.
    catalog = Catalog("sqlalchemy", "edited-by-hand")
    with closing(store.open_for_writing(traces)) as conn:
        store.write_traces(conn, [Trace("with-orm", "GET /orm", "http", 1.0, 2.0, orm=(catalog,))])
    with closing(sqlite3.connect(traces)) as conn, conn:
        conn.execute("UPDATE orm_catalogs SET catalog = '{\"format\": '")
    loaded = store.read_traces(traces)
    [trace] = [t for t in loaded.traces if t.id == "with-orm"]
    assert trace.orm == ()
    assert loaded.damage.orm_catalogs == 1 and loaded.damage.traces == 0


def test_the_report_counts_every_kind_of_edit_at_once(traces: Path) -> None:
    ids = trace_ids(traces)
    articles = _articles(traces)
    victims = {articles[0], articles[2], articles[3]}
    _edit(
        traces,
        (TRACE_EDITS["bad JSON in spans"], articles[0]),
        (TRACE_EDITS["text duration"], articles[2]),
        (TRACE_EDITS["a span row with its duration missing"], articles[3]),
        (_first_span(shape=_shape_field("stack_id", "0123456789abcdef")), articles[1]),
    )
    with closing(sqlite3.connect(traces)) as conn, conn:
        conn.execute("UPDATE stacks SET frames = 'not json' WHERE rowid = 1")
        conn.execute("UPDATE statements SET statement = x'ff' WHERE rowid = 1")

    run = report(traces, "--format", "json", "--fail-on", "info")
    assert run.code == 1, run.stderr  # the N+1 is still found: --fail-on is met
    assert "Traceback" not in run.stderr
    data = run.json()
    assert data["damaged"] == {"traces": 3, "stacks": 1, "statements": 1, "orm_catalogs": 0}
    assert run.requests() == expected_requests(ids, victims)
    assert run.stderr.splitlines() == [
        f"perfdoctor: warning: skipped 3 damaged traces in {traces} (and 1 call stack, "
        "1 statement damaged): the traces that use them are read without them; capture "
        "again into a new store for complete results"
    ]

    text = report(traces)
    assert text.code == 0 and text.stderr == ""
    assert f"skipped 3 damaged traces in {traces}" in " ".join(text.stdout.split())

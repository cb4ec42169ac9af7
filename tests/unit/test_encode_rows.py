"""The rows the recorder's encoder writes for given finished traces.

The store's format is read by every perfdoctor that opens the store (and by
people's own SQL): making the encoder faster must not change one byte of it.
The expected rows below were written by the encoder before it was made faster
(2026-12-05) for these same traces.
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from perfdoctor import store
from perfdoctor.capture import encode, privacy
from perfdoctor.capture.context import _BLOCKED_LOOP, ActiveTrace
from perfdoctor.capture.encode import Encoder

_SOURCE = """
def list_orders(request):
    for order in orders:
        order.customer
    return render(orders)


def checkout(request):
    cart = load_cart(request)
    pay(cart)
    return done()
"""
_CODE = compile(_SOURCE, "/app/shop/views.py", "exec")
_LIST, _CHECKOUT = (c for c in _CODE.co_consts if hasattr(c, "co_code"))
_MODULE = _CODE


def _frames(code: Any, offset: int) -> list[tuple[Any, int]]:
    return [(code, offset), (_MODULE, 0)]


_SQL_ORDER = 'SELECT "orders"."id", "orders"."customer_id" FROM "orders" WHERE "orders"."id" = %s'
_SQL_CUSTOMER = "SELECT id, name FROM customers WHERE id = 7"
_SQL_CUSTOMER_2 = "SELECT id, name FROM customers WHERE id = 8"


def _traces() -> list[ActiveTrace]:
    loop = _frames(_LIST, 4)
    same_path = _frames(_LIST, 4)  # equal content, another list
    pay = _frames(_CHECKOUT, 10)
    trigger = ("django-template", "orders.html", "/app/templates/orders.html", 12, "o.customer", 1)

    first = ActiveTrace("GET /orders", "http")
    first.id = "a" * 32
    first.started_at = 1_800_000_000.25
    first.start = 10.0
    first.finished = 10.0423456789
    first.status = 200
    first.attrs = {"route": "/orders", "cpu_ms": 12.5, "response_ms": 41.123456789, "n": 3}
    first.spans = [
        ("db.connect", 0.0001, 0.0002, pay, "django",
         {"system": "postgresql", "connection_id": 41, "thread": "MainThread"}),
        ("db", 0.001, 0.0005, loop, "django", "postgresql", _SQL_ORDER, 111, None, 1, 41, None),
        ("db", 0.0016, 0.00049999, loop, "django", "postgresql", _SQL_ORDER, 222, None, [3], 41,
         None),
        ("db", 0.0023, 0.0004, same_path, "django", "postgresql", _SQL_ORDER, 111, None, None, 41,
         None),
        ("db", 0.003, 0.0001, loop, "django", "postgresql", _SQL_CUSTOMER, None, None, 1, 41,
         {"trigger": trigger}),
        ("db", 0.0032, 0.0001, loop, "django", "postgresql", _SQL_CUSTOMER_2, None, None, 1, 41,
         {"trigger": trigger}),
        ("db", 0.004, 0.0002, [], None, "postgresql", b"SELECT 1", None, None, None, 42,
         _BLOCKED_LOOP),
        ("db", 0.005, 0.0002, pay, "django", "postgresql", _SQL_ORDER + " OFFSET 500", 333,
         None, 0, 41, {"offset": 500}),
        ("db", 0.0051, 0.0001, pay, "django", "postgresql", _SQL_ORDER, None, None, 2.0, 41, None),
        ("db", 0.0052, 0.0001, pay, "django", "postgresql", _SQL_ORDER, 333, None, True, 41, None),
        ("db", 0.0053, 0.0001, pay, "django", "postgresql", _SQL_ORDER, 333, None, [7], 44, None),
        ("cache", 0.006, 0.00003, pay, None, {"system": "redis", "op": "get", "hit": True}),
        ("http", 0.007, 0.01, pay, "requests",
         {"system": "requests", "method": "GET", "status": 200, "ratio": math.nan}),
        ("render", 0.02, 0.001, [], None),
    ]

    second = ActiveTrace("checkout", "job")
    second.id = "b" * 32
    second.started_at = 1_800_000_001.5
    second.start = 20.0
    second.finished = None
    second.dropped = 4
    second.attrs = {"queue": "default", "wait_ms": 0.1 + 0.2}
    second.spans = [
        ("db", 0.0, 0.001, pay, "sqlalchemy", "sqlite", _SQL_ORDER, 444, (7, "x"), 1, 43, None),
        ("db", 0.002, 0.001, pay, "sqlalchemy", "sqlite", _SQL_ORDER, 555, {"id": 8}, [2], 43,
         {"trigger": trigger}),
        ("db", 0.004, 0.001, loop, "django", "postgresql", _SQL_CUSTOMER, None, None, 1, 41,
         {"trigger": trigger}),
    ]

    third = ActiveTrace("GET /orders", "http")
    third.id = "c" * 32
    third.started_at = 1_800_000_002.0
    third.start = 30.0
    third.finished = 30.002
    third.status = 500
    third.spans = [
        ("db", 0.0, 0.001, loop, "django", "postgresql", _SQL_ORDER, 111, None, 1, 41, None),
        ("db", 0.001, 0.0005, _frames(_LIST, 4), "django", "postgresql", _SQL_ORDER, 111, None,
         1, 41, None),
    ]
    return [first, second, third]


def _rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    monkeypatch.setattr(privacy, "_KEY", bytes(16))
    monkeypatch.setattr(
        encode.orm_catalogs, "current", lambda: [("0123456789abcdef", '{"models":{}}')]
    )
    monkeypatch.setattr(encode.os, "getpid", lambda: 4242)
    encoder = Encoder()
    conn = store.open_for_writing(tmp_path / "traces.db")
    batches: list[dict[str, Any]] = []
    first, second, third = _traces()
    for traces in ([first, second], [third]):
        batch = store.Batch()
        for trace in traces:
            encoder.add(trace, batch)
        batches.append(
            {
                "stacks": sorted(batch.stacks),
                "statements": sorted(batch.statements),
                "orm_catalogs": sorted(batch.orm_catalogs),
            }
        )
        store.write_batch(conn, batch, attempts=1)
        encoder.committed(batch)
    conn.close()
    conn = sqlite3.connect(tmp_path / "traces.db")
    try:
        stored: dict[str, list[Any]] = {"batches": batches}
        for table, order in (
            ("traces", "id"),
            ("stacks", "id"),
            ("statements", "fingerprint"),
            ("orm_catalogs", "id"),
        ):
            query = f"SELECT * FROM {table} ORDER BY {order}"
            stored[table] = [list(row) for row in conn.execute(query)]
        return stored
    finally:
        conn.close()


EXPECTED = Path(__file__).with_name("encode_rows_expected.json")


def test_rows_are_the_same_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    got = json.loads(json.dumps(_rows(tmp_path, monkeypatch)))
    assert got == json.loads(EXPECTED.read_text())


if __name__ == "__main__":  # prints the expected rows from the encoder at hand
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        patch = pytest.MonkeyPatch()
        try:
            print(json.dumps(_rows(Path(folder), patch), indent=1))
        finally:
            patch.undo()


class _Uncomparable:
    """A template object whose ``==`` raises (a user's own class can)."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("cannot compare templates")

    __hash__ = object.__hash__


def test_a_loops_equal_triggers_each_stored(tmp_path: Path) -> None:
    # A serializer's loop: every row's query has a dict of its own holding an
    # equal trigger (the capture side makes one per query); then the same query
    # under another field, then one under a template that cannot be compared.
    loop = _frames(_LIST, 4)
    serializer = ("drf-serializer", Encoder, "author_name", "author.name", 0)
    other_field = ("drf-serializer", Encoder, "editor_name", "editor.name", 0)
    odd = [("jinja2", _Uncomparable(), None, None, 0) for _ in range(2)]
    extras = [{"trigger": tuple(serializer)} for _ in range(3)]
    extras += [{"trigger": other_field}, {"trigger": odd[0]}, {"trigger": odd[1]}]
    extras += [{"trigger": serializer, "offset": 40}]
    trace = ActiveTrace("GET /articles", "http")
    trace.start = 0.0
    trace.finished = 0.01
    trace.status = 200
    trace.spans = [
        ("db", 0.001 * i, 0.0005, loop, "django", "sqlite", _SQL_ORDER, i, None, 1, 41, extra)
        for i, extra in enumerate(extras)
    ]
    # A page's cache reads of one key, each with attributes of its own, and an
    # eager load's (a list among them).
    read = {"system": "redis", "op": "get", "key": "site_root", "hit": True}
    eager = {"orm": "django", "method": "select_related", "nested": ["author__team"]}
    trace.spans += [
        ("cache", 0.01, 0.0001, loop, "django", dict(read)),
        ("cache", 0.011, 0.0001, loop, "django", dict(read)),
        ("cache", 0.012, 0.0001, loop, "django", {**read, "hit": False}),
        ("orm.eager", 0.013, 0.0001, loop, "django", dict(eager)),
    ]
    batch = store.Batch()
    Encoder().add(trace, batch)
    conn = store.open_for_writing(tmp_path / "traces.db")
    store.write_batch(conn, batch, attempts=1)
    conn.close()

    (stored,) = store.iter_traces(tmp_path / "traces.db")
    others = stored.spans[7:]
    assert [span.system for span in others] == ["redis"] * 3 + [None]
    assert [span.attrs.get("hit") for span in others] == [True, True, False, None]
    assert others[3].attrs["nested"] == ["author__team"]
    triggers = [span.attrs.get("trigger") for span in stored.spans[:7]]
    fields = [trigger and trigger.get("field") for trigger in triggers]
    assert fields == ["author_name"] * 3 + ["editor_name", None, None, "author_name"]
    assert [span.attrs.get("offset") for span in stored.spans[:7]] == [None] * 6 + [40]
    assert [span.rows for span in stored.spans[:7]] == [1] * 7
    assert len({span.params_digest for span in stored.spans[:7]}) == 7

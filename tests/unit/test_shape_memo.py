"""A read's shapes decoded once per distinct text (``layout.ShapeMemo``): the spans
are those a decode without it gives, values laid out otherwise included."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from perfdoctor.model import Location
from perfdoctor.store import layout

HERE = Location("/app/views.py", 12, "index")
STACKS = {"s1": [HERE, Location("/app/urls.py", 3, "route")]}
STATEMENTS = {"f1": "SELECT * FROM t WHERE id = ?"}
SHAPES = '[["db","django","sqlite","f1",1,"s1"],["cache",null,"redis",null,null,null,{"op":"get"}]]'


def _value(shapes: str = SHAPES, rows: str = '[[0,10,5,"d1",1],[1,20,3],[0,30,4,"d2",2]]') -> str:
    return f'{{"shapes":{shapes},"spans":{rows}}}'


def _read(text: Any, memo: layout.ShapeMemo | None) -> Any:
    try:
        spans, checked = layout.decode_checked(text, STACKS, STATEMENTS, memo)
    except Exception as exc:  # the same failure either way is the point
        return type(exc)
    shaped: Any = spans
    return (
        [dataclasses.astuple(span) for span in spans],
        checked,
        [[spans.index(s) for s in same] for same in getattr(shaped, "shapes", [])],
        {kind: [spans.index(s) for s in same] for kind, same in getattr(shaped, "kinds", {}).items()},
    )


def _same_either_way(text: Any, memo: layout.ShapeMemo) -> Any:
    expected = _read(text, None)
    assert _read(text, memo) == expected
    assert _read(text, memo) == expected  # from the memo, when it keeps the shapes
    return expected


def test_a_repeated_shapes_text_is_decoded_once_and_read_the_same() -> None:
    memo = layout.ShapeMemo()
    first, _, _, kinds = _same_either_way(_value(), memo)
    _same_either_way(_value(rows='[[1,1,1],[1,2,2]]'), memo)
    assert (memo.lookups, memo.misses, len(memo.known)) == (4, 1, 1)
    assert first[0][7] == STATEMENTS["f1"] and first[0][3] == dataclasses.astuple(HERE)
    assert kinds == {"db": [0, 2], "cache": [1]}


def test_spans_of_the_memo_get_attrs_of_their_own() -> None:
    memo = layout.ShapeMemo()
    one, _ = layout.decode_checked(_value(), STACKS, STATEMENTS, memo)
    two, _ = layout.decode_checked(_value(), STACKS, STATEMENTS, memo)
    one[1].attrs["op"] = "set"
    assert two[1].attrs == {"op": "get"}
    assert one[0].attrs is not two[0].attrs


def test_shapes_with_nested_attrs_are_kept_and_each_trace_gets_its_own() -> None:
    """A span's attrs are a shallow copy of its shape's: what is nested in them is
    new for every trace, as a decode of the text makes it."""
    memo = layout.ShapeMemo()
    nested = (
        '[["db",null,"sqlite",null,null,null,{"trigger":{"kind":"drf-serializer",'
        '"names":["a",{"b":1}]}}]]'
    )
    _same_either_way(_value(nested, "[[0,1,1]]"), memo)
    assert len(memo.known) == 1
    one, _ = layout.decode_checked(_value(nested, "[[0,1,1]]"), STACKS, STATEMENTS, memo)
    two, _ = layout.decode_checked(_value(nested, "[[0,1,1]]"), STACKS, STATEMENTS, memo)
    assert one[0].attrs["trigger"] is not two[0].attrs["trigger"]
    assert one[0].attrs["trigger"]["names"][1] is not two[0].attrs["trigger"]["names"][1]
    one[0].attrs["trigger"]["names"][1]["b"] = 2
    three, _ = layout.decode_checked(_value(nested, "[[0,1,1]]"), STACKS, STATEMENTS, memo)
    assert three[0].attrs["trigger"] == {"kind": "drf-serializer", "names": ["a", {"b": 1}]}


# Two requests of one Django view, each on a connection of its own (CONN_MAX_AGE = 0):
# the same shapes but for the connection ids, as the bakery demo's store holds them.
_REQUEST = (
    '[["db.connect","django","sqlite",null,{conn},null,{{"thread":"MainThread"}}],'
    '["db","django","sqlite","f1",{conn},"s1"],'
    '["db","django","sqlite","f1",{conn},"s1",{{"trigger":{{"kind":"django-template",'
    '"path":"/app/t.html","line":15,"inside":0}}}}],'
    '["cache","django","django-cache",null,null,null,{{"op":"get","hit":true}}]]'
)
_REQUEST_ROWS = '[[0,0,5],[1,10,5,"d1",1],[2,20,4,"d2",1],[3,30,1]]'


def test_shapes_differing_only_in_connection_ids_are_parsed_once() -> None:
    memo = layout.ShapeMemo()
    first = _same_either_way(_value(_REQUEST.format(conn=140700379131472), _REQUEST_ROWS), memo)
    other = _value(_REQUEST.format(conn=-5), _REQUEST_ROWS)
    assert _read(other, memo) == _read(other, None)
    again = _value(_REQUEST.format(conn=140700405781840), _REQUEST_ROWS)
    assert _read(again, memo) == _read(again, None)
    assert memo.misses == 1
    assert [span[11] for span in _read(again, None)[0]] == [140700405781840] * 3 + [None]
    assert first[0][0][11] == 140700379131472


def test_a_connection_id_past_the_digits_limit_fails_as_without_the_memo() -> None:
    memo = layout.ShapeMemo()
    _same_either_way(_value(_REQUEST.format(conn=7), _REQUEST_ROWS), memo)
    huge = _value(_REQUEST.format(conn="9" * 5000), _REQUEST_ROWS)
    assert _read(huge, memo) is _read(huge, None) is ValueError


@pytest.mark.parametrize(
    ("shapes", "rows"),
    [
        # A number in the attrs laid out as a shape's connection id would be.
        (
            '[["db",null,"sqlite","f1",7],["cache",null,null,null,null,null,'
            '{"path":[null,null,null,null,7]}]]',
            "[[0,1,2],[1,3,4]]",
        ),
        # The same inside a string.
        (
            '[["db",null,"sqlite","f1",7],["cache",null,null,null,null,null,'
            '{"note":"[null,null,null,null,7]"}]]',
            "[[0,1,2],[1,3,4]]",
        ),
        # The id as a number between commas inside a string.
        (
            '[["db",null,"sqlite","f1",7],["cache",null,null,null,null,null,{"note":"a,7,b"}]]',
            "[[0,1,2],[1,3,4]]",
        ),
        # Two connections: the first one's id is cut out, the other's read as it is.
        ('[["db",null,"sqlite","f1",7],["db",null,"sqlite","f2",9]]', "[[0,1,2],[1,3,4]]"),
        ('[["db",null,"sqlite","f1",9],["db",null,"sqlite","f2",7]]', "[[0,1,2],[1,3,4]]"),
        # A '#' of the text's own, the mark a connection id's place gets.
        (
            '[["db",null,"sqlite","f1",7],["cache",null,null,null,null,null,{"note":"#"}]]',
            "[[0,1,2],[1,3,4]]",
        ),
        # Connection ids that are no integers.
        ('[["db",null,"sqlite","f1",7.5]]', "[[0,1,2]]"),
        ('[["db",null,"sqlite","f1","c7"]]', "[[0,1,2]]"),
    ],
)
def test_only_connection_ids_are_set_aside(shapes: str, rows: str) -> None:
    memo = layout.ShapeMemo()
    _same_either_way(_value(shapes, rows), memo)
    changed = _value(shapes.replace("7", "8"), rows)
    assert _read(changed, memo) == _read(changed, None)


@pytest.mark.parametrize(
    "text",
    [
        # The separator inside a string of the shapes: the text before it is no array.
        _value('[["db",null,null,null,null,null,{"note":"],\\"spans\\":["}]]', "[[0,1,2]]"),
        _value('[["db",null,null,null,null,null,{"note":"],"}]]', "[[0,1,2]]"),
        _value(rows="[[0,1,2]] "),  # whitespace after the rows
        _value() + " ",
        _value(rows='[[0,1,"slow"]]'),  # a text duration
        _value(rows="[[0,1,2,3]]"),  # a number for the parameters digest
        _value(rows="[[5,1,2]]"),  # a shape that is not there
        _value(rows="[[0,1,2,null,1,0]]"),  # a field too many
        _value(rows="[[0,1"),  # cut short
        _value(rows="{}"),
        _value('[["db",1]]', "[[0,1,2]]"),  # a number for a framework
        _value('[["db",null,null,null,null,null,{},null]]', "[[0,1,2]]"),  # a field too many
        _value('[["db",null,null,null,null,null,"{}"]]', "[[0,1,2]]"),  # attrs a string
        _value("[]", "[]"),
        '{"shapes":[],"spans":[],"more":1}',
        '{"spans":[],"shapes":[]}',
        '{"shapes":[["db"]],"spans":[[0,1,2]]',
        '{"shapes":[["db"],"spans":[[0,1,2]]}',
        '[["db",0.5,1.0,null,null,null,null,null,null,null,null]]',
        b'{"shapes":[],"spans":[]}',
    ],
)
def test_a_value_reads_the_same_with_the_memo_as_without(text: Any) -> None:
    memo = layout.ShapeMemo()
    _same_either_way(text, memo)
    _same_either_way(_value(), memo)  # and the memo still reads the usual ones
    _same_either_way(text, memo)


def test_another_reads_stacks_start_the_memo_again() -> None:
    memo = layout.ShapeMemo()
    layout.decode_checked(_value(), STACKS, STATEMENTS, memo)
    other = {"s1": [Location("/app/other.py", 1, "f")]}
    spans, _ = layout.decode_checked(_value(), other, STATEMENTS, memo)
    assert spans[0].location == Location("/app/other.py", 1, "f")
    assert len(memo.known) == 1


def test_shapes_that_seldom_repeat_stop_being_kept() -> None:
    memo = layout.ShapeMemo()
    for n in range(3000):
        shapes = f'[["db",null,"sqlite","f{n}"]]'
        layout.decode_checked(_value(shapes, "[[0,1,2]]"), STACKS, STATEMENTS, memo)
    # Past the first thousand, at most every other text is parsed for the memo.
    assert memo.misses <= 1501 and len(memo.known) <= 512
    assert _read(_value('[["db",null,"sqlite","new"]]', "[[0,1,2]]"), memo) == _read(
        _value('[["db",null,"sqlite","new"]]', "[[0,1,2]]"), None
    )


def test_requests_on_connections_of_their_own_read_back_with_their_own_ids(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As Django runs by default (CONN_MAX_AGE = 0): each request opens its own
    connection, so each stored request's shapes differ only in its id.  Read back,
    every span has its own request's connection id, and the shapes were parsed
    once, not once per request."""
    import sqlite3

    import perfdoctor
    from tests.inprocess import capturing, load, seed_blog

    database = tmp_path / "blog.db"
    seed = sqlite3.connect(database)
    seed_blog(seed, articles=20)
    seed.commit()
    seed.close()
    path = tmp_path / "traces.db"
    kept = []  # each request's connection left open: no id reused
    with capturing(path):
        for n in range(12):
            with perfdoctor.trace("GET /articles/"):
                conn = sqlite3.connect(database)
                conn.execute("SELECT id, title FROM article WHERE id > ?", (n,)).fetchall()
                conn.execute("SELECT name FROM author WHERE id = ?", (n % 10 + 1,)).fetchall()
                kept.append(conn)
    ids = [id(conn) for conn in kept]
    parsed = []
    shape_facts = layout._shape_facts
    monkeypatch.setattr(
        layout, "_shape_facts", lambda *args: parsed.append(1) or shape_facts(*args)
    )
    traces = sorted(load(path), key=lambda t: t.started_at)
    assert len(traces) == 12 and len(set(ids)) == 12
    for trace, conn_id in zip(traces, ids):
        queries = [s for s in trace.spans if s.kind == "db"]
        assert [s.connection_id for s in queries] == [conn_id, conn_id]
    assert len(parsed) == 1
    for conn in kept:
        conn.close()

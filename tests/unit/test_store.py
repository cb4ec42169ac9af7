import multiprocessing
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from perfdoctor import store
from perfdoctor.errors import StoreError
from perfdoctor.model import Location, Span, Trace


def _trace(i: int, pid: int = 0) -> Trace:
    loc = Location("/app/views.py", 10 + i, "view")
    span = Span(
        kind="db", start_ms=0.5, duration_ms=1.25, location=loc, stack=[loc],
        framework="django", system="sqlite", statement="SELECT * FROM t WHERE id = ?",
        fingerprint="abc", params_digest=f"d{i}", rows=None, connection_id=1,
    )
    return Trace(id=f"{pid}-{i}", name="GET /t/{id}", kind="http", started_at=1000.0 + i,
                 duration_ms=3.0, status=200, pid=pid, spans=[span])


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    conn = store.open_for_writing(path)
    assert store.write_traces(conn, [_trace(1), _trace(2)]) == 2
    conn.close()
    loaded = store.load_traces(path)
    assert [t.id for t in loaded] == ["0-1", "0-2"]
    span = loaded[0].spans[0]
    assert span.location == Location("/app/views.py", 11, "view")
    assert span.statement == "SELECT * FROM t WHERE id = ?"
    assert span.framework == "django"
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no trace store"):
        store.load_traces(tmp_path / "missing.db")


def test_empty_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store.open_for_writing(path).close()
    with pytest.raises(StoreError, match="holds no traces"):
        store.load_traces(path)


def test_store_from_a_newer_perfdoctor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store.open_for_writing(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer perfdoctor"):
        store.load_traces(path)
    with pytest.raises(StoreError, match="newer perfdoctor"):
        store.open_for_writing(path)


def test_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("hello, this is not sqlite\n" * 100)
    with pytest.raises(StoreError):
        store.load_traces(path)


def _writer(path: str, pid: int) -> None:
    conn = store.open_for_writing(Path(path))
    for batch in range(10):
        store.write_traces(conn, [_trace(batch * 10 + i, pid) for i in range(10)])
    conn.close()


def test_several_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(str(path), pid)) for pid in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert store.count_traces(path) == 400


def test_store_from_an_older_perfdoctor_is_refused_with_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store.open_for_writing(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {store.OLDEST_READABLE - 1}")
    with pytest.raises(StoreError, match=r"older perfdoctor .*--clear"):
        store.load_traces(path)


def test_a_call_site_and_a_statement_are_stored_once(tmp_path: Path) -> None:
    # A thousand spans of one call site keep one stack row and one statement row.
    path = tmp_path / "t.db"
    conn = store.open_for_writing(path)
    store.write_traces(conn, [_trace(0, pid) for pid in range(1000)])
    conn.close()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM spans").fetchone()[0] == 1000
        assert db.execute("SELECT count(*) FROM stacks").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM statements").fetchone()[0] == 1
    loaded = store.load_traces(path)
    assert {s.location for t in loaded for s in t.spans} == {Location("/app/views.py", 10, "view")}


@pytest.mark.parametrize(
    "text",
    ['{"a":[1,2.5,"x",null]}', ' {"a":1}', '{"a":1}\n', "[]", "NaN", b'{"b":2}'],
)
def test_values_read_as_json_loads_reads_them(text: str | bytes) -> None:
    """The store's reader scans a value without json.loads' wrapper: a value
    written by hand (whitespace around it, bytes) reads the same."""
    import json
    import math

    from perfdoctor.store import layout

    got, expected = layout.loads(text), json.loads(text)
    assert got == expected or (math.isnan(got) and math.isnan(expected))


@pytest.mark.parametrize("text", ["", "{", '{"a":1}x', "[1,]"])
def test_a_value_that_is_not_json_fails_as_json_loads_fails(text: str) -> None:
    import json

    from perfdoctor.store import layout

    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as got:
        layout.loads(text)
    assert str(got.value) == str(expected.value)

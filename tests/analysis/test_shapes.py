"""A store's traces are read shape by shape: the report is the one the same
traces give in memory, span by span.

The store writes each distinct span shape once per trace, and the detectors ask
their questions of a statement, a call site or the attrs once per shape.  These
traces mix what makes shapes differ without making the queries differ: one
loop's query over two connections (two shapes, one N+1), the same read twice,
a page deep into a table, a SELECT * of many rows, a blocking call in an async
view, slow queries with and without a machine sample.
"""

from __future__ import annotations

from pathlib import Path

from perfdoctor import store
from perfdoctor.analysis.analyze import analyze, analyze_chunks
from perfdoctor.analysis.shapes import shapes
from perfdoctor.fingerprint import normalize
from perfdoctor.model import Location, Span, Trace
from perfdoctor.settings import Settings
from perfdoctor.store import chunks
from tests.analysis.test_chunked import by_id, report_of

APP = "/srv/blog"
LIST = Location(f"{APP}/views.py", 30, "posts")
AUTHOR = Location(f"{APP}/models.py", 12, "author")
TAGS = Location(f"{APP}/models.py", 20, "tags")
PAGE = Location(f"{APP}/views.py", 44, "archive")
# One stack list per call site, as a store's decoder shares them.
STACKS = {where: [where, LIST] for where in (LIST, AUTHOR, TAGS, PAGE)}


def _db(
    sql: str,
    at: float,
    ms: float,
    where: Location,
    params: str,
    rows: int = 1,
    connection: int = 1,
    attrs: dict[str, object] | None = None,
) -> Span:
    shape = normalize(sql)
    return Span(
        kind="db",
        start_ms=at,
        duration_ms=ms,
        location=where,
        stack=STACKS[where],
        framework="django",
        system="postgresql",
        statement=shape.statement,
        fingerprint=shape.fingerprint,
        params_digest=params,
        rows=rows,
        connection_id=connection,
        attrs=attrs or {},
    )


def posts(i: int) -> Trace:
    spans = [_db("SELECT * FROM posts LIMIT 20", 1.0, 2.0, LIST, f"p{i}", rows=8)]
    at = 4.0
    for row in range(8):
        # One loop, its query over two pooled connections: two shapes, one N+1.
        spans.append(
            _db(f"SELECT * FROM users WHERE id = {row}", at, 0.6, AUTHOR, f"u{row}", 1, 1 + row % 2)
        )
        spans.append(_db(f"SELECT * FROM tags WHERE post = {row}", at + 0.7, 0.4, TAGS, f"t{row}"))
        at += 1.2
    # The same read twice, from two connections.
    spans.append(_db("SELECT * FROM site WHERE id = 1", at, 3.0, LIST, "s1", connection=1))
    spans.append(_db("SELECT * FROM site WHERE id = 1", at + 3.5, 3.0, LIST, "s1", connection=2))
    at += 7.0
    if i % 3 == 0:
        spans.append(_db("SELECT * FROM stats", at, 700.0 + i, LIST, f"x{i}", rows=900))
        at += 705.0 + i
    return Trace(
        id=f"posts-{i:03d}",
        name="GET /posts",
        kind="http",
        started_at=1_700_000_000.0 + i,
        duration_ms=at + 1.0,
        status=200,
        spans=spans,
        attrs={
            "framework": "django",
            "async": True,
            "handler": {"path": f"{APP}/views.py", "line": 28, "function": "posts"},
            **({"machine": {"load1": 3.0, "cpus": 2}} if i % 2 else {}),
        },
    )


def archive(i: int) -> Trace:
    blocking = {"blocks_event_loop": True, "offset": 5000 + 20 * i}
    spans = [
        _db("SELECT * FROM posts ORDER BY id LIMIT 20 OFFSET ?", 1.0, 120.0, PAGE, f"a{i}", 20)
    ]
    spans[0].attrs = blocking
    return _request(f"archive-{i:03d}", "GET /archive", 1_700_000_000.3 + i, 125.0, spans, True)


def _request(
    trace_id: str, name: str, at: float, ms: float, spans: list[Span], is_async: bool
) -> Trace:
    """A Django request of these spans that answered 200."""
    attrs: dict[str, object] = {"framework": "django"}
    if is_async:
        attrs["async"] = True
    return Trace(
        id=trace_id, name=name, kind="http", started_at=at, duration_ms=ms, status=200,
        spans=spans, attrs=attrs,
    )  # fmt: skip


def traces() -> list[Trace]:
    return [t for i in range(12) for t in (posts(i), archive(i))]


def test_a_store_read_by_shape_gives_the_report_of_the_traces_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "traces.db"
    conn = store.open_for_writing(path)
    store.write_traces(conn, traces())
    conn.close()
    settings = Settings()
    read = report_of(analyze_chunks(chunks.read(path, 5).chunks(), settings))
    in_memory = report_of(analyze(traces(), settings))
    assert read == in_memory
    found = {f["id"] for f in read["findings"]}
    assert {
        "n-plus-one-query",
        "duplicate-query",
        "large-offset",
        "blocking-in-async",
        "slow-query",
    } <= found
    # The loop's query over two connections is one N+1 of all its runs.
    authors = [f for f in by_id(read, "n-plus-one-query") if "users" in f["evidence"]["statement"]]
    assert [f["evidence"]["count"] for f in authors] == [8]


def test_a_stored_trace_comes_listed_by_shape(tmp_path: Path) -> None:
    path = tmp_path / "traces.db"
    conn = store.open_for_writing(path)
    store.write_traces(conn, [posts(0)])
    conn.close()
    (trace,) = store.read_traces(path).traces
    listed = shapes(trace)
    # In order of each shape's first span, each shape's spans in trace order.
    assert [s for shape in listed for s in shape] != trace.spans
    assert sorted(id(s) for shape in listed for s in shape) == sorted(id(s) for s in trace.spans)
    firsts = [trace.spans.index(shape[0]) for shape in listed]
    assert firsts == sorted(firsts)
    assert [len(shape) for shape in listed][:3] == [1, 4, 8]
    # The same grouping for the trace built in memory.
    assert [len(shape) for shape in shapes(posts(0))] == [len(shape) for shape in listed]


def paged(i: int) -> Trace:
    """One code path, over a new connection each request (Django's CONN_MAX_AGE = 0):
    a page deep into a table, a list read without LIMIT that is long only in odd
    requests, and a loop over the page's posts of five to seven rows."""
    spans = [
        _db("SELECT * FROM posts ORDER BY id LIMIT 20 OFFSET ?", 1.0, 9.0, PAGE, f"a{i}", 20,
            connection=100 + i, attrs={"offset": 5000}),
        _db("SELECT * FROM users", 11.0, 4.0, LIST, f"u{i}", 3000 if i % 2 else 3,
            connection=100 + i),
    ]  # fmt: skip
    for row in range(5 + i % 3):
        spans.append(
            _db(f"SELECT * FROM users WHERE id = {row}", 16.0 + row, 0.5, AUTHOR, f"w{row}",
                connection=100 + i)
        )  # fmt: skip
    return _request(f"paged-{i:03d}", "GET /paged", 1_700_000_100.0 + i, 24.0, spans, False)


def test_one_code_paths_traces_are_screened_once_whatever_their_connections(
    tmp_path: Path,
) -> None:
    path = tmp_path / "traces.db"
    conn = store.open_for_writing(path)
    store.write_traces(conn, [paged(i) for i in range(8)])
    conn.close()
    settings = Settings()
    read = store.read_traces(path).traces
    # Eight requests, eight connection ids, one family of shapes.
    families = {id(trace.spans.family) for trace in read}  # type: ignore[attr-defined]
    assert len(families) == 1
    report = report_of(analyze(read, settings))
    assert report == report_of(analyze([paged(i) for i in range(8)], settings))
    # The screens' answers were kept for the family: the statements could, and the
    # rows of each request decided (the long list only in odd requests).
    answers = read[0].spans.family.answers  # type: ignore[attr-defined]
    assert answers[("large-offset", settings.large_offset_min)] is True
    assert answers["blocking-in-async"] is False
    assert answers["select-star"] is True
    assert {f["endpoint"] for f in by_id(report, "large-offset")} == {"GET /paged"}
    (unbounded,) = by_id(report, "unbounded-query")
    assert unbounded["evidence"]["rows"] == 3000
    assert not by_id(report, "blocking-in-async")
    # What readers work out of each shape (the loop's runs key, whether a statement
    # has no LIMIT...) was worked out once for the family, a value per shape.
    family = read[0].spans.family  # type: ignore[attr-defined]
    assert family.values and all(len(v) == len(family.facts) for v in family.values.values())
    # Each request's loop its own length.
    (loop,) = by_id(report, "n-plus-one-query")
    assert loop["evidence"]["count"] == 7

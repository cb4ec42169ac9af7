"""Semantic conventions (old and new names) → perfdoctor's model, on hand-written OTLP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from perfdoctor.analysis.analyze import analyze
from perfdoctor.model import Location, Trace
from perfdoctor.otlp.decode import Skips, spans
from perfdoctor.otlp.mapping import map_trace
from perfdoctor.settings import Settings
from tests.otlp.otlp_lines import (
    NEW_SERVER,
    OLD_SERVER,
    ROOT,
    TRACE,
    n_plus_one,
    request,
    server,
    span,
)


def mapped(raw_spans: list[dict[str, Any]], scope: str = "test") -> list[Trace]:
    skips = Skips()
    decoded = list(spans(json.loads(json.dumps(request(raw_spans, scope))), 1, skips))
    assert not skips.counts
    return map_trace(decoded, 10_000, 5).traces


def one(raw_spans: list[dict[str, Any]], scope: str = "test") -> Trace:
    traces = mapped(raw_spans, scope)
    assert len(traces) == 1
    return traces[0]


OLD_DB = {
    "db.system": "postgresql",
    "db.statement": "SELECT * FROM users WHERE email = 'bob@example.com' AND id IN (1, 2, 3)",
    "db.name": "shop",
    "code.filepath": "/srv/app/views.py",
    "code.lineno": 42,
    "code.function": "list_users",
}
NEW_DB = {
    "db.system.name": "postgresql",
    "db.query.text": "SELECT * FROM users WHERE email = 'bob@example.com' AND id IN (1, 2, 3)",
    "db.namespace": "shop",
    "code.file.path": "/srv/app/views.py",
    "code.line.number": 42,
    "code.function.name": "list_users",
}
OLD_HTTP = {
    "http.method": "GET",
    "http.url": "https://api.example.com:8443/users/1234/orders?token=s3cret&page=2",
    "http.status_code": 200,
}
NEW_HTTP = {
    "http.request.method": "GET",
    "url.full": "https://api.example.com:8443/users/1234/orders?token=s3cret&page=2",
    "server.address": "api.example.com",
    "server.port": 8443,
    "http.response.status_code": 200,
}


@pytest.mark.parametrize(
    ("root", "db", "http"),
    [(OLD_SERVER, OLD_DB, OLD_HTTP), (NEW_SERVER, NEW_DB, NEW_HTTP)],
    ids=["old-names", "new-names"],
)
def test_old_and_new_names_give_the_same_trace(
    root: dict[str, Any], db: dict[str, Any], http: dict[str, Any]
) -> None:
    trace = one(
        [
            server(root),
            span("0000000000000001", "SELECT shop", 3, 2.0, 5.0, db),
            span("0000000000000002", "GET", 3, 10.0, 20.0, http),
        ],
        scope="opentelemetry.instrumentation.requests",
    )
    assert trace.id == TRACE
    assert trace.name == "GET /articles/{id}"
    assert trace.kind == "http"
    assert trace.status == 200
    assert trace.duration_ms == pytest.approx(50.0)
    assert trace.started_at == pytest.approx(1_700_000_000.0)
    query, call = trace.spans
    assert query.kind == "db"
    assert query.system == "postgresql"
    # Literals out, exactly as capture stores statements.
    assert query.statement == "SELECT * FROM users WHERE email = ? AND id IN (...)"
    assert "bob" not in json.dumps(query.attrs) and query.fingerprint
    assert query.start_ms == pytest.approx(2.0) and query.duration_ms == pytest.approx(5.0)
    assert query.location == Location("/srv/app/views.py", 42, "list_users")
    assert query.stack == [query.location]
    assert call.kind == "http"
    assert call.system == "requests"
    assert call.attrs["method"] == "GET"
    assert call.attrs["status"] == 200
    # Query values dropped, ids collapsed, like capture's outbound URLs.
    assert call.attrs["url"] == "https://api.example.com:8443/users/{id}/orders"
    assert call.attrs["host"] == "api.example.com:8443"
    assert "s3cret" not in json.dumps(call.attrs)
    # OpenTelemetry does not say what timeout was in effect: unknown, not "none".
    assert "timeout" not in call.attrs


def test_same_fingerprint_for_old_and_new_names() -> None:
    old = one([server(OLD_SERVER), span("0000000000000001", "q", 3, 1.0, 1.0, OLD_DB)])
    new = one([server(NEW_SERVER), span("0000000000000001", "q", 3, 1.0, 1.0, NEW_DB)])
    assert old.spans[0].fingerprint == new.spans[0].fingerprint


def test_route_missing_falls_back_to_path_template_then_span_name() -> None:
    by_path = one([server({"http.method": "GET", "http.target": "/orders/981?x=1"})])
    assert by_path.name == "GET /orders/{id}"
    assert by_path.attrs["query_names"] == ["x"]
    new_path = one([server({"http.request.method": "POST", "url.path": "/carts/77"})])
    assert new_path.name == "POST /carts/{id}"
    starlette = one([server({"http.request.method": "GET", "http.route": "/items/{id:int}"})])
    assert starlette.name == "GET /items/{id}"


@pytest.mark.parametrize(
    ("route", "name"),
    [
        # Django's re_path, as its instrumentation sends it: the regex.
        (r"^((?:[\w\-]+/)*)$", "GET /{arg1}"),
        (r"^api/articles/(?P<pk>[^/.]+)/$", "GET /api/articles/{pk}/"),
        # Rails' optional format is part of a template, not a regex.
        ("/users/:id(.:format)", "GET /users/:id(.:format)"),
    ],
)
def test_a_regex_route_reads_as_a_template(route: str, name: str) -> None:
    trace = one([server({"http.request.method": "GET", "http.route": route})])
    assert trace.name == name


def test_trace_without_server_span_is_a_job_named_after_its_root() -> None:
    root = span(ROOT, "nightly-report", 1, 0.0, 100.0, {}, parent=None)
    query = span(
        "0000000000000001",
        "SELECT",
        3,
        5.0,
        2.0,
        {"db.system": "sqlite", "db.statement": "SELECT 1"},
    )
    trace = one([root, query])
    assert trace.name == "nightly-report"
    assert trace.kind == "job"
    assert trace.status is None
    assert [s.kind for s in trace.spans] == ["db"]


def test_distributed_trace_gives_one_request_per_service() -> None:
    call = span(
        "0000000000000001",
        "GET",
        3,
        1.0,
        30.0,
        {"http.request.method": "GET", "url.full": "http://inventory:8000/stock/5"},
    )
    downstream = span(
        "0000000000000002",
        "GET /stock/{sku}",
        2,
        2.0,
        28.0,
        {"http.request.method": "GET", "http.route": "/stock/{sku}"},
        parent="0000000000000001",
    )
    query = span(
        "0000000000000003",
        "SELECT",
        3,
        3.0,
        5.0,
        {"db.system": "mysql", "db.statement": "SELECT qty FROM stock WHERE sku = 5"},
        parent="0000000000000002",
    )
    traces = {t.name: t for t in mapped([server(NEW_SERVER), call, downstream, query])}
    assert set(traces) == {"GET /articles/{id}", "GET /stock/{sku}"}
    front, stock = traces["GET /articles/{id}"], traces["GET /stock/{sku}"]
    assert [s.kind for s in front.spans] == ["http"]
    assert [s.kind for s in stock.spans] == ["db"]
    assert front.id == TRACE and stock.id == f"{TRACE}-0000000000000002"
    assert stock.spans[0].start_ms == pytest.approx(1.0)  # relative to its own request


def test_nested_server_spans_are_one_request() -> None:
    inner = span("0000000000000009", "flask", 2, 1.0, 40.0, dict(NEW_SERVER), parent=ROOT)
    query = span(
        "0000000000000001",
        "q",
        3,
        2.0,
        1.0,
        {"db.system": "sqlite", "db.statement": "SELECT 1"},
        parent="0000000000000009",
    )
    trace = one([server(NEW_SERVER), inner, query])
    assert [s.kind for s in trace.spans] == ["db"]


def test_other_spans_are_left_out_and_counted() -> None:
    skips = Skips()
    raw = request([server(NEW_SERVER), span("0000000000000001", "render", 1, 1.0, 1.0, {})])
    result = map_trace(list(spans(raw, 1, skips)), 10_000, 5)
    assert result.other == 1
    assert result.traces[0].spans == []


@pytest.mark.parametrize(
    ("statement", "op", "expected"),
    [
        ("SET ? ?", "set", {"ttl": None}),  # plain SET: no expiry, whatever the values
        ("SET ? ? ? ?", "set", {"ttl_kept": True}),  # options hidden: never a false alarm
        ("SETEX ? ? ?", "setex", {"ttl_kept": True}),
        ("SET user:42:profile v EX 60", "set", {"ttl": 60.0, "key": "user:{id}:profile"}),
        ("SET session:abc v", "set", {"ttl": None, "key": "session:abc"}),
        ("GET ?", "get", {}),
    ],
)
def test_redis_spans_become_cache_operations(
    statement: str, op: str, expected: dict[str, Any]
) -> None:
    attrs = {"db.system": "redis", "db.statement": statement, "db.redis.database_index": 0}
    trace = one([server(OLD_SERVER), span("0000000000000001", op.upper(), 3, 1.0, 1.0, attrs)])
    (cache,) = trace.spans
    assert cache.kind == "cache"
    assert cache.system == "redis"
    assert cache.attrs["op"] == op
    for key, value in expected.items():
        assert cache.attrs[key] == value
    assert "v" not in cache.attrs.values()  # values are never kept
    if "?" in statement:
        assert "key" not in cache.attrs


def test_new_redis_names_and_operation_attribute() -> None:
    attrs = {"db.system.name": "redis", "db.operation.name": "SET", "db.query.text": "SET ? ?"}
    trace = one([server(NEW_SERVER), span("0000000000000001", "SET", 3, 1.0, 1.0, attrs)])
    assert trace.spans[0].kind == "cache" and trace.spans[0].attrs["ttl"] is None


def test_stacktrace_attribute_gives_user_frames_innermost_first() -> None:
    stacktrace = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/views.py", line 10, in index\n    load()\n'
        '  File "/srv/app/models.py", line 20, in load\n    cur.execute(q)\n'
        '  File "/usr/lib/python3/site-packages/sqlalchemy/engine.py", line 5, in execute\n'
    )
    attrs = {"db.system": "sqlite", "db.statement": "SELECT 1", "code.stacktrace": stacktrace}
    trace = one([server(OLD_SERVER), span("0000000000000001", "q", 3, 1.0, 1.0, attrs)])
    assert [(f.path, f.line) for f in trace.spans[0].stack] == [
        ("/srv/app/models.py", 20),
        ("/srv/app/views.py", 10),
    ]


def test_ids_as_base64_and_kinds_as_enum_names_are_read() -> None:
    import base64

    raw = server(NEW_SERVER)
    raw["traceId"] = base64.b64encode(bytes.fromhex(TRACE)).decode()
    raw["spanId"] = base64.b64encode(bytes.fromhex(ROOT)).decode()
    raw["kind"] = "SPAN_KIND_SERVER"
    trace = one([raw])
    assert trace.id == TRACE and trace.kind == "http"


@pytest.mark.parametrize("new_names", [False, True], ids=["old-names", "new-names"])
def test_hand_written_n_plus_one_is_found(new_names: bool) -> None:
    traces = mapped(n_plus_one(TRACE, new_names=new_names))
    findings = [f for f in analyze(traces, Settings()).findings if f.id == "n-plus-one-query"]
    assert len(findings) == 1
    assert findings[0].endpoint == "GET /articles/{id}"
    assert findings[0].evidence["count"] == 6
    assert findings[0].evidence["statement"] == "SELECT * FROM authors WHERE id = ?"
    assert findings[0].evidence["parent_statement"] == "SELECT id FROM articles LIMIT ?"


def test_same_literal_statement_repeated_is_a_duplicate_not_an_n_plus_one() -> None:
    repeated = [
        span(
            f"{i + 1:016x}",
            "q",
            3,
            1.0 + i,
            0.5,
            {"db.system": "sqlite", "db.statement": "SELECT * FROM config WHERE id = 1"},
        )
        for i in range(6)
    ]
    ids = {f.id for f in analyze(mapped([server(OLD_SERVER), *repeated]), Settings()).findings}
    assert "duplicate-query" in ids
    assert "n-plus-one-query" not in ids


def _request(trace: str, children: list[dict[str, Any]], ms: float = 50.0) -> list[dict[str, Any]]:
    root = "e" + trace[17:]
    for child in children:
        child["traceId"], child["parentSpanId"] = trace, root
    return [server(NEW_SERVER, ms, span_id=root, trace=trace), *children]


def test_detectors_that_run_on_otel_spans_alone() -> None:
    raw: list[dict[str, Any]] = []
    for t in range(3):
        trace = f"{t + 1:032x}"
        calls = [
            span(
                f"{i + 1:016x}",
                "GET",
                3,
                1.0 + i * 12,
                10.0,
                {
                    "http.request.method": "GET",
                    "url.full": f"http://stock:9000/items/{i + 7}",
                    "http.response.status_code": 200,
                },
            )
            for i in range(6)
        ]
        slow = span(
            "00000000000000a1",
            "SELECT",
            3,
            80.0,
            300.0,
            {
                "db.system.name": "postgresql",
                "db.query.text": "SELECT sum(total) FROM orders WHERE day = '2024-01-01'",
            },
        )
        notify = span(
            "00000000000000a2",
            "POST",
            3,
            390.0,
            400.0,
            {
                "http.request.method": "POST",
                "url.full": "http://mailer:25/send",
                "http.response.status_code": 202,
            },
        )
        cache = span(
            "00000000000000a3",
            "SET",
            3,
            795.0,
            1.0,
            {"db.system.name": "redis", "db.query.text": "SET ? ?"},
        )
        raw.extend(_request(trace, [*calls, slow, notify, cache], ms=800.0))
    skips = Skips()
    decoded = list(spans(request(raw, "opentelemetry.instrumentation.requests"), 1, skips))
    by_trace: dict[str, list[Any]] = {}
    for s in decoded:
        by_trace.setdefault(s.trace_id, []).append(s)
    traces = [t for group in by_trace.values() for t in map_trace(group, 10_000, 5).traces]
    ids = {f.id for f in analyze(traces, Settings()).findings}
    assert {
        "n-plus-one-http",
        "slow-query",
        "slow-endpoint",
        "background-job-candidate",
        "cache-no-ttl",
    } <= ids
    # The timeout in effect is not in OpenTelemetry spans: no claim either way.
    assert "http-no-timeout" not in ids


def test_http_url_from_old_peer_attributes_when_no_full_url() -> None:
    attrs = {
        "http.method": "post",
        "http.scheme": "http",
        "net.peer.name": "billing",
        "net.peer.port": 8080,
        "http.target": "/invoices/123?secret=1",
        "http.status_code": 201,
    }
    trace = one([server(OLD_SERVER), span("0000000000000001", "POST", 3, 1.0, 5.0, attrs)])
    (call,) = trace.spans
    assert call.attrs["url"] == "http://billing:8080/invoices/{id}"
    assert call.attrs["host"] == "billing:8080"
    assert call.attrs["method"] == "POST" and call.attrs["status"] == 201


def test_returned_rows_feed_the_row_count_detectors() -> None:
    attrs = {
        "db.system.name": "postgresql",
        "db.query.text": "SELECT * FROM articles",
        "db.response.returned_rows": 5000,
    }
    trace = one([server(NEW_SERVER), span("0000000000000001", "q", 3, 1.0, 30.0, attrs)])
    assert trace.spans[0].rows == 5000
    assert "unbounded-query" in {f.id for f in analyze([trace], Settings()).findings}

"""Each HTTP client library, in a script under ``perfdoctor run``, calling a local upstream."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from perfdoctor.model import Span, Trace
from tests.capture.apps_support import app_env, load, marker_line
from tests.conftest import run_perfdoctor

SCRIPT = Path(__file__).parent / "apps" / "clients_script.py"


@pytest.fixture(scope="module")
def captured(
    upstream: str, async_upstream: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("clients")
    traces = folder / "traces.db"
    result = run_perfdoctor(
        "run",
        "--traces",
        str(traces),
        "--",
        sys.executable,
        str(SCRIPT),
        upstream,
        async_upstream,
        cwd=folder,
        env=app_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "perfdoctor:" not in result.stderr, result.stderr
    stored = b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith("traces.db"))
    return {
        "traces": {t.name: t for t in load(traces)},
        "upstream": upstream,
        "async_upstream": async_upstream,
        "bytes": stored,
    }


def _span_at(trace: Trace, marker: str) -> Span:
    line = marker_line(SCRIPT, f"call: {marker}")
    found = [s for s in trace.spans if s.kind == "http" and s.location and s.location.line == line]
    assert len(found) == 1, (marker, [(s.system, s.location) for s in trace.spans])
    span = found[0]
    assert span.location is not None and Path(span.location.path).resolve() == SCRIPT.resolve()
    return span


def _host(base: str) -> str:
    return base.removeprefix("http://")


def test_requests_calls_are_one_span_each_with_their_timeout(captured: dict[str, Any]) -> None:
    trace = captured["traces"]["requests"]
    base = captured["upstream"]
    # requests goes through urllib3: still one span per call, from requests.
    assert {s.system for s in trace.spans if s.kind == "http"} == {"requests"}
    assert len([s for s in trace.spans if s.kind == "http"]) == 5

    default = _span_at(trace, "requests-default")
    assert default.attrs["method"] == "GET"
    assert default.attrs["url"] == f"{base}/items/{{id}}"
    assert default.attrs["host"] == _host(base)
    assert default.attrs["status"] == 200
    assert default.attrs["bytes"] == len(b'{"kind": "items", "id": 1}')
    assert default.attrs["timeout"] is None  # requests has no default timeout
    assert default.attrs["url_digest"] and default.attrs["response_digest"]
    assert default.duration_ms >= 10  # the upstream waits 15 ms
    assert "blocks_event_loop" not in default.attrs

    assert _span_at(trace, "requests-timeout").attrs["timeout"] == 7.0  # (connect, read): read
    redirect = _span_at(trace, "requests-redirect")
    assert redirect.attrs["url"] == f"{base}/redirect"
    assert redirect.attrs["status"] == 200  # followed to /items/1, still one span
    stream = _span_at(trace, "requests-stream")
    assert stream.attrs["bytes"] is None  # streamed and chunked: nothing read, nothing known
    error = _span_at(trace, "requests-error")
    assert error.attrs["status"] is None
    assert error.attrs["error"] == "ReadTimeout"
    assert error.attrs["timeout"] == 0.05


def test_httpx_sync_and_async(captured: dict[str, Any]) -> None:
    trace = captured["traces"]["httpx"]
    default = _span_at(trace, "httpx-default")
    assert default.system == "httpx"
    assert default.attrs["timeout"] == 5.0  # httpx's default
    assert default.attrs["status"] == 200 and default.attrs["bytes"] == 26
    assert _span_at(trace, "httpx-none").attrs["timeout"] is None

    async_trace = captured["traces"]["httpx-async"]
    span = _span_at(async_trace, "httpx-async")
    assert span.system == "httpx"
    assert span.attrs["timeout"] == 12.0
    assert span.attrs["async"] is True
    assert span.attrs["url"] == f"{captured['async_upstream']}/items/{{id}}"
    assert "blocks_event_loop" not in span.attrs


def test_urllib3_pool_timeouts(captured: dict[str, Any]) -> None:
    trace = captured["traces"]["urllib3"]
    assert {s.system for s in trace.spans if s.kind == "http"} == {"urllib3"}
    default = _span_at(trace, "urllib3-default")
    assert default.attrs["timeout"] is None  # the socket default: none
    assert default.attrs["status"] == 200 and default.attrs["bytes"] == 26
    assert default.attrs["url"] == f"{captured['upstream']}/items/{{id}}"
    assert _span_at(trace, "urllib3-timeout").attrs["timeout"] == 4.0


def test_aiohttp_session_timeouts(captured: dict[str, Any]) -> None:
    trace = captured["traces"]["aiohttp"]
    default = _span_at(trace, "aiohttp-default")
    assert default.system == "aiohttp"
    assert default.attrs["timeout"] == 300.0  # aiohttp's default total
    assert default.attrs["status"] == 200
    assert default.attrs["bytes"] == 26  # Content-Length: the body is read after the call
    assert default.attrs["async"] is True
    assert _span_at(trace, "aiohttp-none").attrs["timeout"] is None


def test_urllib_one_span_per_urlopen(captured: dict[str, Any]) -> None:
    trace = captured["traces"]["urllib"]
    base = captured["upstream"]
    # urllib goes through http.client: one span per urlopen all the same, from urllib.
    assert {s.system for s in trace.spans if s.kind == "http"} == {"urllib"}
    assert len([s for s in trace.spans if s.kind == "http"]) == 3
    default = _span_at(trace, "urllib-default")
    assert default.attrs["method"] == "GET"
    assert default.attrs["url"] == f"{base}/items/{{id}}"
    assert default.attrs["host"] == _host(base)
    assert default.attrs["status"] == 200
    assert default.attrs["bytes"] == len(b'{"kind": "items", "id": 10}')
    assert default.attrs["timeout"] is None  # the socket default: none
    assert default.attrs["connection_reused"] is False  # urllib opens one per call
    assert default.duration_ms >= 10
    redirect = _span_at(trace, "urllib-redirect")
    assert redirect.attrs["url"] == f"{base}/redirect"
    assert (redirect.attrs["status"], redirect.attrs["timeout"]) == (200, 6.0)
    missing = _span_at(trace, "urllib-404")
    assert missing.attrs["status"] == 404  # HTTPError is the answer, not a failure
    assert "error" not in missing.attrs


def test_http_client_spans_and_connection_reuse(captured: dict[str, Any]) -> None:
    trace = captured["traces"]["http.client"]
    base = captured["upstream"]
    spans = [s for s in trace.spans if s.kind == "http"]
    assert [s.system for s in spans] == ["http.client"] * 3
    first, second, low_level = spans
    line = marker_line(SCRIPT, "call: http.client-keepalive")
    assert first.location is not None and first.location.line == line
    assert second.location is not None and second.location.line == line
    assert first.attrs["url"] == f"{base}/items/{{id}}"
    assert (first.attrs["status"], first.attrs["timeout"]) == (200, 8.0)
    # The second request goes over the connection the first one opened.
    assert (first.attrs["connection_reused"], second.attrs["connection_reused"]) == (False, True)
    assert low_level == _span_at(trace, "http.client-low-level")
    assert low_level.attrs["url"] == f"{base}/stock/{{id}}"
    assert low_level.attrs["timeout"] is None
    assert low_level.attrs["bytes"] == len(b'{"kind": "stock", "id": 3}')


def test_no_query_value_reaches_the_store(captured: dict[str, Any]) -> None:
    assert b"q-s3cret" not in captured["bytes"]
    assert b"token=" not in captured["bytes"]

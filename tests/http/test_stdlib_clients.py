"""urllib.request and http.client in process: one span per call, whichever library
is on top, the app's own errors untouched, and the detectors over them."""

from __future__ import annotations

import http.client
import socket
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import urllib3

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.model import Finding, Span
from perfdoctor.settings import Settings
from tests.inprocess import capturing, load

HERE = Path(__file__).resolve()


def _http(traces: Path) -> list[Span]:
    return [s for t in load(traces) for s in t.spans if s.kind == "http"]


def _findings(traces: Path, detector: str) -> list[Finding]:
    return [f for f in analyze(load(traces), Settings()).findings if f.id == detector]


def test_each_call_is_recorded_once_by_the_outermost_library(
    tmp_path: Path, upstream: str
) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("GET /once", "http"):
        urllib.request.urlopen(f"{upstream}/redirect", timeout=5).read()  # two requests
        requests.get(f"{upstream}/items/1", timeout=5)  # requests -> urllib3 -> http.client
        urllib3.PoolManager().request("GET", f"{upstream}/items/2", timeout=2.0)
        conn = http.client.HTTPConnection("127.0.0.1", int(upstream.rsplit(":", 1)[1]))
        conn.request("GET", "/items/3")
        conn.getresponse().read()
        conn.close()
    assert [s.system for s in _http(traces)] == ["urllib", "requests", "urllib3", "http.client"]


def test_the_apps_own_errors_pass_through_unchanged(tmp_path: Path, upstream: str) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("GET /errors", "http"):
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{upstream}/missing", timeout=5)
        assert missing.value.code == 404
        missing.value.close()
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen("http://127.0.0.1:9/refused", timeout=2)
        with pytest.raises(ConnectionRefusedError):
            http.client.HTTPConnection("127.0.0.1", 9, timeout=2).request("GET", "/")
        # A server that accepts (the kernel's backlog does) and never answers.
        with socket.create_server(("127.0.0.1", 0)) as silent:
            stalled = http.client.HTTPConnection("127.0.0.1", silent.getsockname()[1], timeout=0.05)
            stalled.request("GET", "/stall")
            with pytest.raises(socket.timeout):
                stalled.getresponse()
            stalled.close()
        # Not http(s): urllib's own business, no span.
        urllib.request.urlopen(f"file://{HERE}").close()
    spans = _http(traces)
    assert [(s.system, s.attrs["status"], s.attrs.get("error")) for s in spans] == [
        ("urllib", 404, None),
        ("urllib", None, "URLError"),
        ("http.client", None, "ConnectionRefusedError"),
        ("http.client", None, "TimeoutError"),
    ]
    assert spans[3].attrs["timeout"] == 0.05


# --- sequential-http and http-no-timeout -----------------------------------


def test_sequential_urlopen_calls_without_timeout(tmp_path: Path, upstream: str) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("GET /dashboard", "http"):
        first = sys._getframe().f_lineno + 1
        user = urllib.request.urlopen(f"{upstream}/users/1?delay=40").read()
        orders = urllib.request.urlopen(f"{upstream}/orders/1?delay=40").read()
        stock = urllib.request.urlopen(f"{upstream}/stock/1?delay=40").read()
    assert user and orders and stock
    [sequential] = _findings(traces, "sequential-http")
    assert sequential.endpoint == "GET /dashboard"
    assert sequential.location is not None
    assert (Path(sequential.location.path).resolve(), sequential.location.line) == (HERE, first)
    assert sequential.evidence["count"] == 3
    assert sequential.evidence["system"] == "urllib"
    assert sequential.evidence["saved_ms"] >= 50
    assert [c.split(" at ")[1].split(" ")[0].rsplit(":", 1)[1] for c in sequential.evidence["calls"]] == [
        str(first), str(first + 1), str(first + 2)
    ]
    assert "ThreadPoolExecutor" in sequential.fix
    no_timeout = _findings(traces, "http-no-timeout")
    assert sorted((f.location.line if f.location else 0) for f in no_timeout) == [
        first, first + 1, first + 2
    ]
    for finding in no_timeout:
        assert finding.location is not None and Path(finding.location.path).resolve() == HERE
        assert finding.evidence["library"] == "urllib"
        assert "urlopen(url, timeout=" in finding.fix


def test_urlopen_with_timeouts_made_together_is_clean(tmp_path: Path, upstream: str) -> None:
    def fetch(path: str) -> bytes:
        with urllib.request.urlopen(f"{upstream}{path}?delay=40", timeout=5) as response:
            body: bytes = response.read()
            return body

    traces = tmp_path / "t.db"
    with (
        capturing(traces),
        perfdoctor.trace("GET /dashboard/fixed", "http"),
        ThreadPoolExecutor(max_workers=3) as pool,
    ):
        assert all(pool.map(fetch, ["/users/1", "/orders/1", "/stock/1"]))
    spans = _http(traces)
    assert len(spans) == 3 and {s.attrs["timeout"] for s in spans} == {5.0}
    assert _findings(traces, "sequential-http") == []
    assert _findings(traces, "http-no-timeout") == []


def test_http_client_without_a_timeout_and_its_fix(tmp_path: Path, upstream: str) -> None:
    host, port = "127.0.0.1", int(upstream.rsplit(":", 1)[1])
    traces = tmp_path / "t.db"
    with capturing(traces):
        with perfdoctor.trace("GET /sdk", "http"):
            conn = http.client.HTTPConnection(host, port)
            conn.request("GET", "/items/1")
            line = sys._getframe().f_lineno + 1
            conn.getresponse().read()
            conn.close()
        with perfdoctor.trace("GET /sdk/fixed", "http"):
            conn = http.client.HTTPConnection(host, port, timeout=5)
            conn.request("GET", "/items/1")
            conn.getresponse().read()
            conn.close()
    [finding] = _findings(traces, "http-no-timeout")
    assert finding.endpoint == "GET /sdk"
    assert finding.location is not None and finding.location.line == line
    assert finding.evidence["library"] == "http.client"
    assert "HTTPConnection(host, timeout=" in finding.fix

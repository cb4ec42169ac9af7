"""Capture details best seen in process: the event loop flag, errors left untouched, threads."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import requests
import urllib3

import perfdoctor
from perfdoctor.model import Span
from tests.inprocess import capturing, load


def _http(traces: Path) -> list[Span]:
    return [s for t in load(traces) for s in t.spans if s.kind == "http"]


def test_a_blocking_client_inside_a_running_loop_is_flagged(tmp_path: Path, upstream: str) -> None:
    async def handler() -> None:
        requests.get(f"{upstream}/items/1", timeout=5)  # blocks the loop
        async with httpx.AsyncClient() as client:
            await client.get(f"{upstream}/items/2")

    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("GET /mixed", "http"):
        asyncio.run(handler())
    blocking, awaited = _http(traces)
    assert (blocking.system, awaited.system) == ("requests", "httpx")
    assert blocking.attrs["blocks_event_loop"] is True
    assert "blocks_event_loop" not in awaited.attrs
    assert awaited.attrs["async"] is True


def test_requests_over_urllib3_is_recorded_once(tmp_path: Path, upstream: str) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("GET /once", "http"):
        requests.get(f"{upstream}/redirect", timeout=5)  # a redirect: two urllib3 requests
        urllib3.PoolManager().request("GET", f"{upstream}/items/3", timeout=2.0)
    spans = _http(traces)
    assert [(s.system, s.attrs["url"].rsplit("/", 1)[-1]) for s in spans] == [
        ("requests", "redirect"),
        ("urllib3", "{id}"),
    ]
    assert spans[1].attrs["timeout"] == 2.0


def test_the_apps_own_errors_pass_through_unchanged(tmp_path: Path, upstream: str) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("GET /errors", "http"):
        with pytest.raises(ValueError, match="PreparedRequests"):
            requests.Session().send(requests.Request("GET", f"{upstream}/items/1"))  # type: ignore[arg-type]
        with pytest.raises(requests.ConnectionError):
            requests.get("http://127.0.0.1:9/refused", timeout=2)
        with pytest.raises(httpx.ConnectError):
            httpx.get("http://127.0.0.1:9/refused")
    refused = [s for s in _http(traces) if s.attrs.get("host") == "127.0.0.1:9"]
    assert [(s.system, s.attrs["error"], s.attrs["status"]) for s in refused] == [
        ("requests", "ConnectionError", None),
        ("httpx", "ConnectError", None),
    ]


def test_nothing_is_recorded_outside_a_trace(tmp_path: Path, upstream: str) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        requests.get(f"{upstream}/items/1", timeout=5)
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda i: requests.get(f"{upstream}/items/{i}", timeout=5), (1, 2)))
    assert not traces.exists() or _http(traces) == []


class _DefaultTimeoutAdapter(requests.adapters.HTTPAdapter):
    """The usual way to give a whole Session a default timeout."""

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def, override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = 4.5
        return super().send(request, **kwargs)


def test_a_timeout_set_by_a_custom_adapter_is_the_one_in_effect(
    tmp_path: Path, upstream: str
) -> None:
    session = requests.Session()
    session.mount("http://", _DefaultTimeoutAdapter())
    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("GET /adapter", "http"):
        session.get(f"{upstream}/items/1")
    [span] = _http(traces)
    assert span.attrs["timeout"] == 4.5

"""The outbound HTTP detectors over calls really made to a local upstream, in process."""

from __future__ import annotations

import asyncio
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import httpx
import pytest
import requests
import urllib3

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.analysis.merging import impact_ms
from perfdoctor.callsite import display_path
from perfdoctor.model import Finding
from perfdoctor.settings import Settings
from tests.inprocess import capturing, load

HERE = Path(__file__).resolve()


def _findings(traces: Path, detector: str, endpoint: str | None = None) -> list[Finding]:
    return [
        f
        for f in analyze(load(traces), Settings()).findings
        if f.id == detector and (endpoint is None or f.endpoint == endpoint)
    ]


def _here(finding: Finding, line: int) -> None:
    assert finding.location is not None
    assert Path(finding.location.path).resolve() == HERE, finding.location
    assert finding.location.line == line, finding.location


# --- n-plus-one-http --------------------------------------------------------


def test_a_call_per_item_in_a_loop_is_an_n_plus_one(tmp_path: Path, upstream: str) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("GET /basket", "http"):
        loop_line = sys._getframe().f_lineno + 1
        for item_id in range(1, 7):
            requests.get(f"{upstream}/items/{item_id}", timeout=5)
            call_line = sys._getframe().f_lineno - 1
    [finding] = _findings(traces, "n-plus-one-http")
    assert finding.endpoint == "GET /basket"
    assert finding.severity == "warning"  # 6 calls: under the error threshold of 10
    _here(finding, call_line)
    evidence = finding.evidence
    assert evidence["count"] == 6
    assert evidence["total_ms"] >= 6 * 15 * 0.9
    assert evidence["url"] == f"{upstream}/items/{{id}}"
    assert evidence["method"] == "GET"
    assert evidence["distinct_urls"] == 6
    assert evidence["system"] == "requests"
    assert evidence["loop"]["line"] == loop_line
    assert "batch" in finding.fix and "ThreadPoolExecutor" in finding.fix
    # The loop's calls are the N+1's, not also a sequential-http finding.
    assert _findings(traces, "sequential-http") == []


def test_an_awaited_loop_gets_the_asyncio_fix(tmp_path: Path, async_upstream: str) -> None:
    async def basket() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            for item_id in range(1, 13):
                await client.get(f"{async_upstream}/items/{item_id}?delay=5")

    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("GET /basket", "http"):
        asyncio.run(basket())
    [finding] = _findings(traces, "n-plus-one-http")
    assert finding.severity == "error"  # 12 calls
    assert finding.evidence["count"] == 12
    assert finding.evidence["system"] == "httpx"
    assert "asyncio.gather" in finding.fix


def test_the_batch_endpoint_is_clean(tmp_path: Path, upstream: str) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("GET /basket/fixed", "http"):
        ids = ",".join(str(i) for i in range(1, 7))
        assert len(requests.get(f"{upstream}/items?ids={ids}", timeout=5).json()) == 6
    assert _findings(traces, "n-plus-one-http") == []


def test_calls_gathered_concurrently_are_clean(tmp_path: Path, async_upstream: str) -> None:
    async def basket() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            await asyncio.gather(
                *(client.get(f"{async_upstream}/items/{i}?delay=40") for i in range(1, 9))
            )

    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("GET /basket/gathered", "http"):
        asyncio.run(basket())
    [trace] = load(traces)
    assert len([s for s in trace.spans if s.kind == "http"]) == 8
    assert _findings(traces, "n-plus-one-http") == []
    assert _findings(traces, "sequential-http") == []


def test_calls_in_a_thread_pool_stay_in_the_request_and_are_clean(
    tmp_path: Path, upstream: str
) -> None:
    def fetch(item_id: int) -> int:
        return requests.get(f"{upstream}/items/{item_id}?delay=40", timeout=5).status_code

    traces = tmp_path / "t.db"
    with (
        capturing(traces),
        perfdoctor.trace("GET /basket/pool", "http"),
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        assert list(pool.map(fetch, range(1, 9))) == [200] * 8
    [trace] = load(traces)
    # The worker threads' calls belong to the request that handed them over.
    assert len([s for s in trace.spans if s.kind == "http"]) == 8
    assert _findings(traces, "n-plus-one-http") == []
    assert _findings(traces, "sequential-http") == []


# --- sequential-http --------------------------------------------------------


def _dashboard(upstream: str) -> None:
    requests.get(f"{upstream}/users/7?delay=40", timeout=5)  # first call
    requests.get(f"{upstream}/orders/7?delay=40", timeout=5)
    requests.get(f"{upstream}/stock/7?delay=40", timeout=5)


def test_independent_calls_one_after_another_are_sequential(tmp_path: Path, upstream: str) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("GET /dashboard", "http"):
        _dashboard(upstream)
    [finding] = _findings(traces, "sequential-http")
    first_line = next(
        n
        for n, text in enumerate(HERE.read_text().splitlines(), 1)
        if text.endswith("# first call")
    )
    _here(finding, first_line)
    evidence = finding.evidence
    assert evidence["count"] == 3
    expected = [
        f"GET {upstream}/{kind}/{{id}} at {display_path(str(HERE))}:{first_line + n} ("
        for n, kind in enumerate(("users", "orders", "stock"))
    ]
    assert [c[: len(e)] for c, e in zip(evidence["calls"], expected, strict=True)] == expected
    assert evidence["saved_ms"] >= 2 * 40 * 0.9  # all but the slowest call
    assert evidence["total_ms"] > evidence["saved_ms"]
    assert "ThreadPoolExecutor" in finding.fix


def test_the_same_calls_overlapped_in_a_pool_are_clean(tmp_path: Path, upstream: str) -> None:
    paths = ("users/7", "orders/7", "stock/7")
    traces = tmp_path / "t.db"
    with (
        capturing(traces),
        perfdoctor.trace("GET /dashboard/fixed", "http"),
        ThreadPoolExecutor(max_workers=3) as pool,
    ):
        futures = [pool.submit(requests.get, f"{upstream}/{p}?delay=40", timeout=5) for p in paths]
        assert [f.result().status_code for f in futures] == [200] * 3
    assert len([s for s in load(traces)[0].spans if s.kind == "http"]) == 3
    assert _findings(traces, "sequential-http") == []


def test_awaited_one_by_one_gets_the_gather_fix(tmp_path: Path, async_upstream: str) -> None:
    async def dashboard(fixed: bool) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            urls = [f"{async_upstream}/{p}/3?delay=40" for p in ("users", "orders", "stock")]

            async def fetch(url: str) -> bytes:
                async with session.get(url) as response:
                    return await response.read()

            if fixed:
                await asyncio.gather(*(fetch(u) for u in urls))
            else:
                await fetch(urls[0])
                await fetch(urls[1])
                await fetch(urls[2])

    traces = tmp_path / "t.db"
    with capturing(traces):
        with perfdoctor.trace("GET /async-dashboard", "http"):
            asyncio.run(dashboard(fixed=False))
        with perfdoctor.trace("GET /async-dashboard/fixed", "http"):
            asyncio.run(dashboard(fixed=True))
    [finding] = _findings(traces, "sequential-http")
    assert finding.endpoint == "GET /async-dashboard"
    assert finding.evidence["count"] == 3
    assert finding.evidence["system"] == "aiohttp"
    assert all(" at " in call and call.endswith(" ms)") for call in finding.evidence["calls"])
    assert "asyncio.gather" in finding.fix


# --- http-no-timeout --------------------------------------------------------


def test_calls_without_a_timeout_are_found_per_library(
    tmp_path: Path, upstream: str, async_upstream: str
) -> None:
    async def aio() -> None:
        no_limit = aiohttp.ClientTimeout(total=None)
        async with (
            aiohttp.ClientSession(timeout=no_limit) as session,
            session.get(f"{async_upstream}/items/4") as response,
        ):
            await response.read()

    traces = tmp_path / "t.db"
    lines: dict[str, int] = {}
    with capturing(traces), perfdoctor.trace("GET /profile", "http"):
        requests.get(f"{upstream}/items/1")
        lines["requests"] = sys._getframe().f_lineno - 1
        httpx.Client(timeout=None).get(f"{upstream}/items/2")
        lines["httpx"] = sys._getframe().f_lineno - 1
        urllib3.PoolManager().request("GET", f"{upstream}/items/3")
        lines["urllib3"] = sys._getframe().f_lineno - 1
        asyncio.run(aio())
    found = {f.evidence["library"]: f for f in _findings(traces, "http-no-timeout")}
    assert set(found) == {"requests", "httpx", "urllib3", "aiohttp"}
    for library, line in lines.items():
        _here(found[library], line)
        assert found[library].evidence["call_site"].endswith(f"test_detectors.py:{line}")
    assert found["requests"].evidence["url"] == f"{upstream}/items/{{id}}"
    assert found["requests"].evidence["calls"] == 1
    assert "timeout=(" in found["requests"].fix
    assert "httpx.Timeout" in found["httpx"].fix
    assert "urllib3.Timeout" in found["urllib3"].fix
    assert "ClientTimeout" in found["aiohttp"].fix


def test_calls_with_a_timeout_are_clean(tmp_path: Path, upstream: str, async_upstream: str) -> None:
    async def aio() -> None:
        # aiohttp's default: 300 s in total.
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{async_upstream}/items/4") as response,
        ):
            await response.read()

    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("GET /profile/fixed", "http"):
        requests.get(f"{upstream}/items/1", timeout=(3.05, 10))
        httpx.get(f"{upstream}/items/2")  # httpx's 5 s default
        urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=5)).request(
            "GET", f"{upstream}/items/3"
        )
        asyncio.run(aio())
    [trace] = load(traces)
    assert len([s for s in trace.spans if s.kind == "http"]) == 4
    assert _findings(traces, "http-no-timeout") == []


# --- uncached-external ------------------------------------------------------


def test_the_same_answer_fetched_on_every_request_is_uncached(
    tmp_path: Path, upstream: str
) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        for _ in range(6):
            with perfdoctor.trace("GET /prices", "http"):
                requests.get(f"{upstream}/rates?base=USD", timeout=5)
                call_line = sys._getframe().f_lineno - 1
    [finding] = _findings(traces, "uncached-external")
    assert finding.endpoint == "GET /prices"
    _here(finding, call_line)
    evidence = finding.evidence
    assert evidence["calls"] == 6
    assert evidence["traces"] == 6
    assert evidence["identical"] == "body"
    assert evidence["url"] == f"{upstream}/rates"
    assert evidence["total_ms"] >= evidence["p50_ms"] > 0
    # Five of the six fetches were not needed, spread over the six requests, and
    # the ranking counts that once, not once per request.
    assert evidence["requests_affected"] == 6
    assert 0 < evidence["wasted_ms"] * 6 < evidence["total_ms"]
    assert impact_ms(finding) == pytest.approx(evidence["wasted_ms"] * 6)
    assert "Cache-Control" in finding.fix and "TTL" in finding.fix


class _TTLCache:
    """The idiomatic fix in miniature: keep an answer for a while."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.entries: dict[str, tuple[float, bytes]] = {}

    def get_or_fetch(self, url: str) -> bytes:
        hit = self.entries.get(url)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        body = requests.get(url, timeout=5).content
        self.entries[url] = (time.monotonic(), body)
        return body


def test_a_cached_answer_is_clean(tmp_path: Path, upstream: str) -> None:
    cache = _TTLCache(ttl=60)
    traces = tmp_path / "t.db"
    with capturing(traces):
        for _ in range(6):
            with perfdoctor.trace("GET /prices/fixed", "http"):
                cache.get_or_fetch(f"{upstream}/rates?base=USD")
    assert _findings(traces, "uncached-external") == []


def test_different_answers_are_not_a_cache_miss(tmp_path: Path, upstream: str) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        for item_id in range(6):
            with perfdoctor.trace("GET /item", "http"):
                requests.get(f"{upstream}/items/{item_id}", timeout=5)
    assert _findings(traces, "uncached-external") == []

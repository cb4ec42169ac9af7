"""The demo's shared event loop: blocking-in-async fires where a sync view's coroutine
blocks the app's one loop, at the line that blocks it, and nothing on the fixed twin."""

from __future__ import annotations

from pathlib import Path

import pytest

import perfdoctor.demo.area_async as area
from perfdoctor.analysis.analyze import Analysis, analyze
from perfdoctor.model import Trace
from perfdoctor.settings import Settings
from tests.demo.support import DEMO_ROUNDS, SharedDemo, line_in, one

SOURCE = Path(area.__file__).resolve()
ROUNDS = DEMO_ROUNDS
SLOW = "GET /async/authors/{author_id}/feeds"
FIXED = "GET /async/authors/{author_id}/feeds/fixed"


@pytest.fixture(scope="module")
def traces(shared_demo: SharedDemo) -> list[Trace]:
    return shared_demo.traces()


@pytest.fixture(scope="module")
def analysis(traces: list[Trace]) -> Analysis:
    return analyze(traces, Settings())


def test_the_endpoints_are_listed_for_the_driver() -> None:
    assert area.ENDPOINTS == (
        "/async/authors/{author_id}/feeds",
        "/async/authors/{author_id}/feeds/fixed",
    )


def test_blocking_in_async_on_the_shared_loop(analysis: Analysis) -> None:
    finding = one(analysis, "blocking-in-async", SLOW)
    assert finding.location is not None
    assert Path(finding.location.path).resolve() == SOURCE
    assert finding.location.line == line_in(SOURCE, "# blocking-in-async: requests")
    # Every feed, fetched on the loop's thread: the request's trace followed the
    # coroutine there (run_coroutine_threadsafe copies the caller's context).
    assert finding.evidence["calls"] == len(area.FEEDS)
    assert finding.evidence["site_calls"] == len(area.FEEDS)
    assert finding.evidence["kinds"] == ["http"]
    assert finding.evidence["blocked_ms"] >= Settings().blocking_in_async_min_ms
    assert "asyncio.to_thread" in finding.fix
    assert "run_coroutine_threadsafe" in finding.fix
    # The Starlette/FastAPI advice does not fit a Flask app's own loop.
    assert "FastAPI" not in finding.fix


def test_the_fixed_twin_is_clean(analysis: Analysis) -> None:
    assert {e.name for e in analysis.endpoints} >= {SLOW, FIXED}
    leaked = [(f.id, f.location) for f in analysis.findings if f.endpoint == FIXED]
    assert leaked == []


def test_the_fixed_twin_still_captures_its_calls(traces: list[Trace]) -> None:
    # Clean because the calls left the loop, not because they went unseen.
    fixed = [t for t in traces if t.name == FIXED]
    assert len(fixed) == ROUNDS
    for trace in fixed:
        http = [s for s in trace.spans if s.kind == "http"]
        assert len(http) == len(area.FEEDS)
        assert not [s for s in http if s.attrs.get("blocks_event_loop")]

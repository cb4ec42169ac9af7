"""The demo's outbound HTTP area: each detector fires on its endpoint, never on the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

import perfdoctor.demo.area_external as area
from perfdoctor.analysis.analyze import Analysis
from perfdoctor.model import Finding
from tests.demo.support import DEMO_ROUNDS, SharedDemo, line_in

SOURCE = Path(area.__file__).resolve()
EXPECTED = {
    "n-plus-one-http": "GET /external/authors/{author_id}/books",
    "sequential-http": "GET /external/authors/{author_id}/dashboard",
    "http-no-timeout": "GET /external/authors/{author_id}/weather",
    "uncached-external": "GET /external/prices",
}


@pytest.fixture(scope="module")
def analysis(shared_demo: SharedDemo) -> Analysis:
    return shared_demo.analysis()


def line_of(text: str) -> int:
    return line_in(SOURCE, text)


def only(analysis: Analysis, detector: str) -> Finding:
    # Other areas may show the same detector on their own endpoints (area_async's
    # blocking fan-out is also sequential-http): this area's are under /external/.
    found = [
        f
        for f in analysis.findings
        if f.id == detector and (f.endpoint or "").startswith("GET /external/")
    ]
    assert [f.endpoint for f in found] == [EXPECTED[detector]], [
        (f.endpoint, f.location) for f in found
    ]
    finding = found[0]
    assert finding.location is not None
    assert Path(finding.location.path).resolve() == SOURCE
    return finding


def test_every_external_endpoint_is_listed_for_the_driver() -> None:
    assert len(area.ENDPOINTS) == 8
    assert all(path.startswith("/external/") for path in area.ENDPOINTS)


def test_the_book_list_is_an_n_plus_one(analysis: Analysis) -> None:
    finding = only(analysis, "n-plus-one-http")
    assert finding.location is not None
    assert finding.location.line == line_of('requests.get(api(f"/books/{book_id}")')
    assert finding.evidence["count"] == area.BOOKS_PER_AUTHOR
    assert finding.evidence["loop"]["line"] == line_of("for book_id in book_ids(author_id):")
    assert finding.evidence["url"].endswith("/books/{id}")
    assert finding.evidence["requests_affected"] == DEMO_ROUNDS


def test_the_dashboard_calls_one_after_another(analysis: Analysis) -> None:
    finding = only(analysis, "sequential-http")
    assert finding.location is not None
    assert finding.location.line == line_of('profile = requests.get(api(f"/profiles/{author_id}")')
    assert finding.evidence["count"] == 3
    assert finding.evidence["saved_ms"] >= 2 * 30 * 0.9  # two of three 30 ms calls
    assert "ThreadPoolExecutor" in finding.fix


def test_the_weather_call_has_no_timeout(analysis: Analysis) -> None:
    finding = only(analysis, "http-no-timeout")
    assert finding.location is not None
    assert finding.location.line == line_of(
        'weather=requests.get(api(f"/weather/{author_id}")).json()'
    )
    assert finding.evidence["library"] == "requests"
    assert "timeout=(" in finding.fix


def test_the_rates_are_fetched_on_every_request(analysis: Analysis) -> None:
    finding = only(analysis, "uncached-external")
    assert finding.location is not None
    assert finding.location.line == line_of('rates: dict[str, float] = requests.get(api("/rates")')
    assert finding.evidence["calls"] == DEMO_ROUNDS * len(area.PRICES_USD)
    assert finding.evidence["traces"] == DEMO_ROUNDS
    assert finding.evidence["identical"] == "body"
    assert finding.evidence["endpoints"] == ["GET /external/prices"]


def test_no_http_finding_on_a_fixed_twin(analysis: Analysis) -> None:
    endpoints = {e.name for e in analysis.endpoints}
    fixed = {
        name for name in endpoints if name.startswith("GET /external/") and name.endswith("/fixed")
    }
    assert len(fixed) == 4
    leaked = [f for f in analysis.findings if f.id in EXPECTED and f.endpoint in fixed]
    assert leaked == []

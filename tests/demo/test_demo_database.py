"""The demo's database area: each database detector fires on its endpoint, at the
line that causes it, and none of them on the ``/fixed`` twins."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfdoctor.analysis.analyze import Analysis
from perfdoctor.demo import area_database
from perfdoctor.demo.models import SIZES
from perfdoctor.model import Finding
from tests.demo.support import DEMO_ROUNDS, SharedDemo, line_in, one

# Three rounds, as `perfdoctor audit` runs: no-connection-reuse wants three
# requests that each opened a connection.
ROUNDS = DEMO_ROUNDS
AREA_PY = Path(area_database.__file__).resolve()
OURS = (
    "unbounded-query",
    "large-offset",
    "select-star",
    "python-side-aggregation",
    "no-connection-reuse",
    "unused-eager-load",
    "sequential-db",
    "blocking-in-async",
    # The dashboard's reports are per author: no request repeats another's.
    "cache-candidate",
)


@pytest.fixture(scope="module")
def analysis(shared_demo: SharedDemo) -> Analysis:
    return shared_demo.analysis()


def line_of(marker: str) -> int:
    return line_in(AREA_PY, f"# {marker}")


def at(finding: Finding, marker: str) -> None:
    assert finding.location is not None
    assert Path(finding.location.path).resolve() == AREA_PY, finding.location
    assert finding.location.line == line_of(marker), finding.location


def test_unbounded_query_on_the_export(analysis: Analysis) -> None:
    finding = one(analysis, "unbounded-query", "GET /database/articles/export")
    at(finding, "unbounded-query:")
    assert finding.evidence["rows"] == SIZES["articles"]
    assert finding.evidence["table"] == "articles"
    assert ".limit(" in finding.fix and "yield_per" in finding.fix


def test_large_offset_on_the_deep_page(analysis: Analysis) -> None:
    finding = one(analysis, "large-offset", "GET /database/articles/page")
    at(finding, "large-offset:")
    assert finding.evidence["offset"] == 119 * area_database.PAGE_SIZE
    assert finding.evidence["rows"] == area_database.PAGE_SIZE
    assert "Model.id > last_id" in finding.fix


def test_select_star_on_whole_articles_for_their_titles(analysis: Analysis) -> None:
    finding = one(analysis, "select-star", "GET /database/authors/recent-titles")
    at(finding, "select-star:")
    assert finding.evidence["rows"] == area_database.RECENT
    assert finding.evidence["wide_columns"] == ["body"]
    assert "load_only(Article." in finding.fix


def test_python_side_aggregation_on_the_comment_stats(analysis: Analysis) -> None:
    finding = one(analysis, "python-side-aggregation", "GET /database/stats/comments")
    at(finding, "aggregation:")
    assert finding.evidence["rows"] == SIZES["comments"]
    assert finding.evidence["response_bytes"] < 100
    assert "func.count()" in finding.fix
    # One diagnosis for the rows: not also an unbounded query.
    assert not [
        f
        for f in analysis.findings
        if f.id == "unbounded-query" and f.endpoint == "GET /database/stats/comments"
    ]


def test_no_connection_reuse_on_the_engine_per_request(analysis: Analysis) -> None:
    finding = one(analysis, "no-connection-reuse", "GET /database/stats/authors")
    at(finding, "no-connection-reuse:")
    assert finding.evidence["requests_with_connect"] == ROUNDS
    assert finding.evidence["framework"] == "sqlalchemy"
    assert finding.evidence["system"] == "sqlite"
    # The engine made per request is the cause; the demo server's thread per
    # request is not (an engine's pool is shared by the process's threads).
    assert finding.fix.startswith("Create the engine")


def test_unused_eager_load_on_the_bylines(analysis: Analysis) -> None:
    finding = one(analysis, "unused-eager-load", "GET /database/articles/bylines")
    at(finding, "unused-eager-load:")
    evidence = finding.evidence
    assert evidence["written"] == "selectinload(Article.tags)"
    assert evidence["rows"] == area_database.PAGE_SIZE
    assert evidence["extra_queries"] == 1 and evidence["extra_query_ms"] > 0
    assert evidence["requests_affected"] == ROUNDS
    assert "Remove selectinload(Article.tags)" in finding.fix
    # The authors on the same page are read: their JOIN is in use.
    assert [f.evidence["written"] for f in analysis.findings if f.id == "unused-eager-load"] == [
        "selectinload(Article.tags)"
    ]


def test_sequential_db_on_the_async_dashboard(analysis: Analysis) -> None:
    finding = one(analysis, "sequential-db", "GET /database/authors/{author_id}/dashboard")
    at(finding, "sequential-db:")
    assert finding.evidence["queries"] == 3
    assert finding.evidence["connections"] == 1
    assert finding.evidence["system"] == "sqlite"
    assert "gather" in finding.fix


def test_the_fixed_twins_are_clean(analysis: Analysis) -> None:
    fixed = {"GET " + path.split("?")[0] for path in area_database.ENDPOINTS if "/fixed" in path}
    assert len(fixed) == 7
    found = [(f.id, f.endpoint) for f in analysis.findings if f.endpoint in fixed and f.id in OURS]
    assert found == []


def test_no_database_finding_on_the_blog_or_other_areas_by_accident(analysis: Analysis) -> None:
    # The blog's pool opens its connection in the first requests: not "no reuse".
    assert not [
        f
        for f in analysis.findings
        if f.id == "no-connection-reuse" and not (f.endpoint or "").startswith("GET /database/")
    ]
    # Flask's async views each run on a loop of their own: nothing here blocks a
    # shared one (area_async.py's endpoint does, and is the only one to).
    assert not [
        f
        for f in analysis.findings
        if f.id == "blocking-in-async" and (f.endpoint or "").startswith("GET /database/")
    ]

"""The demo's responses area: each response detector fires on its endpoint, at the
line that causes it, and none of them on the ``/fixed`` twins."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from perfdoctor import store
from perfdoctor.analyze import Analysis, analyze
from perfdoctor.demo import area_responses
from perfdoctor.demo.driver import run_demo
from perfdoctor.model import Finding
from perfdoctor.settings import Settings

# Three rounds, as `perfdoctor audit` runs: the tag cloud (listed twice) is then
# requested six times, over missing-http-cache's five identical answers.
ROUNDS = 3
AREA_PY = Path(area_responses.__file__).resolve()
OURS = (
    "missing-pagination",
    "missing-http-cache",
    "slow-endpoint",
    "high-memory",
    "background-job-candidate",
)


@pytest.fixture(scope="module")
def analysis(tmp_path_factory: pytest.TempPathFactory) -> Analysis:
    folder = tmp_path_factory.mktemp("demo-responses")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        run_demo(folder / "traces.db", rounds=ROUNDS, quiet=True, database=folder / "demo.sqlite")
    return analyze(store.load_traces(folder / "traces.db"), Settings())


def line_of(marker: str) -> int:
    lines = AREA_PY.read_text(encoding="utf-8").splitlines()
    found = [n for n, text in enumerate(lines, start=1) if marker in text]
    assert len(found) == 1, (marker, found)
    return found[0]


def one(analysis: Analysis, detector: str, endpoint: str) -> Finding:
    found = [f for f in analysis.findings if f.id == detector and f.endpoint == endpoint]
    assert len(found) == 1, (detector, endpoint, [(f.id, f.endpoint) for f in analysis.findings])
    return found[0]


def in_area(finding: Finding) -> bool:
    """The finding's location (shown relative to the working directory) is in the area."""
    return finding.location is not None and Path(finding.location.path).resolve() == AREA_PY


def test_missing_pagination_on_the_full_article_list(analysis: Analysis) -> None:
    finding = one(analysis, "missing-pagination", "GET /responses/articles")
    assert finding.severity == "error"
    assert finding.evidence["items"] == 3000
    assert finding.evidence["bytes"] > 100_000
    assert finding.location is not None and finding.location.function == "all_articles"
    assert in_area(finding)


def test_missing_http_cache_on_the_tag_cloud_and_the_public_reading_list(
    analysis: Analysis,
) -> None:
    cloud = one(analysis, "missing-http-cache", "GET /responses/tags")
    assert cloud.severity == "warning"
    assert cloud.evidence["identical_responses"] == 2 * ROUNDS
    assert "set_etag" in cloud.fix
    public = one(analysis, "missing-http-cache", "GET /responses/me/reading-list")
    assert public.severity == "error"
    assert public.evidence["users"] == 2
    assert "private" in public.fix


def test_slow_endpoint_on_the_trending_report(analysis: Analysis) -> None:
    finding = one(analysis, "slow-endpoint", "GET /responses/reports/trending-words")
    assert finding.evidence["biggest"] == "python"
    assert finding.evidence["p95_ms"] >= 500
    assert finding.location is not None and finding.location.function == "trending_words"


def test_high_memory_at_the_canvas(analysis: Analysis) -> None:
    finding = one(analysis, "high-memory", "GET /responses/reports/activity-chart")
    assert finding.severity == "error"
    assert finding.location is not None
    assert finding.location.line == line_of("# the whole chart in memory")
    assert finding.location.function == "activity_chart"
    assert finding.evidence["peak_kb"] >= 100 * 1024
    assert finding.evidence["top"][0]["kb"] >= 100 * 1024


def test_background_job_candidate_on_follow(analysis: Analysis) -> None:
    finding = one(
        analysis, "background-job-candidate", "POST /responses/authors/{author_id}/follow"
    )
    assert finding.location is not None
    assert finding.location.line == line_of('requests.post(current_app.config["MAIL_API"]')
    assert finding.evidence["share"] >= 0.5
    assert "RQ" in finding.fix


def test_nothing_of_ours_on_the_fixed_twins(analysis: Analysis) -> None:
    names = {e.name for e in analysis.endpoints}
    twins = set()
    for path in area_responses.ENDPOINTS:
        method, _, target = path.rpartition(" ")
        name = f"{method or 'GET'} {target}"
        assert name in names, (name, sorted(names))
        if name.endswith("/fixed"):
            twins.add(name)
    assert len(twins) == 6
    found = [(f.id, f.endpoint) for f in analysis.findings if f.id in OURS and f.endpoint in twins]
    assert found == []

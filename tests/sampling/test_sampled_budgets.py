"""Budget detectors on a sampled store: a request counts for the requests its
trace stands for.

Seen on a real CMS (a Wagtail site under ``perfdoctor run --sample 0.05``):
the workers' first requests took 3 s, the tail rule kept them as it keeps every
slow request, and among a few dozen kept traces they made slow-endpoint report
a p95 of 3,323 ms for a page whose p95 over its 613 requests was 68 ms, beside
an endpoints table that said 68.  Here a page's query waits 60 ms now and then,
so the same statement, the same page, is fast at p95 or slow at p95 depending
on how often.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.capture.apps_support import app_env
from tests.conftest import findings, report_json, run_perfdoctor

APP = Path(__file__).parent / "now_and_then_app.py"
# The page's budget and the slow query's under the 60 ms wait, the tail rule's
# threshold too (every slow request kept).
BUDGETS = (
    "[tool.perfdoctor]\nsample_slow_ms = 40\nslow_endpoint_p95_ms = 50\nslow_query_p95_ms = 40\n"
    "background_job_min_ms = 40\n"
)


def _report(
    tmp_path: Path, requests: int, slow_every: int, *options: str, path: str = "/page"
) -> dict[str, Any]:
    (tmp_path / "pyproject.toml").write_text(BUDGETS)
    traces = tmp_path / "traces.db"
    done = run_perfdoctor(
        "run", "--traces", str(traces), *options, "--",
        sys.executable, str(APP), str(tmp_path / "app.db"), str(requests), str(slow_every), path,
        cwd=tmp_path, env=app_env(PERFDOCTOR_SAMPLE_SEED="3"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return report_json(traces, cwd=tmp_path)


def test_a_page_slow_one_time_in_25_is_not_slow_at_p95_when_sampled(tmp_path: Path) -> None:
    report = _report(tmp_path, 400, 25, "--sample", "0.1")
    [page] = [e for e in report["endpoints"] if e["name"] == "GET /page"]
    assert page["requests"] == 400
    assert page["p95_ms"] < 50
    # A quarter or more of the kept traces are the slow ones: unweighted, both fired.
    assert report["sampled"]["GET /page"]["kept"] <= 4 * 16
    assert findings(report, "slow-endpoint") == []
    assert findings(report, "slow-query") == []


def test_a_page_slow_one_time_in_four_is_slow_at_p95_when_sampled(tmp_path: Path) -> None:
    report = _report(tmp_path, 200, 4, "--sample", "0.1")
    [endpoint] = findings(report, "slow-endpoint", "GET /page")
    evidence = endpoint["evidence"]
    assert evidence["p95_ms"] >= 60
    assert evidence["p50_ms"] < 50
    # The 50 slow requests, all kept, and about 150 fast ones drawn at 0.1.
    assert evidence["requests_affected"] == 50
    assert 100 <= evidence["requests"] <= 300
    assert evidence["sampled"] == "seen in 50 of ~200 requests"
    [query] = findings(report, "slow-query")
    assert query["evidence"]["p95_ms"] >= 60
    assert 100 <= query["evidence"]["runs"] <= 300


def test_without_sampling_every_request_counts_once(tmp_path: Path) -> None:
    report = _report(tmp_path, 100, 4)
    [endpoint] = findings(report, "slow-endpoint", "GET /page")
    assert endpoint["evidence"]["requests"] == 100
    assert endpoint["evidence"]["requests_affected"] == 25
    [query] = findings(report, "slow-query")
    assert query["evidence"]["runs"] == 100


def test_an_n_plus_one_only_slow_requests_run_is_seldom_when_sampled(tmp_path: Path) -> None:
    """The bakery demo's image renditions: read one at a time only in a worker's
    first, cold requests, all of them slow, all of them kept under --sample."""
    report = _report(tmp_path, 400, 20, "--sample", "0.1", path="/listing")
    [loop] = findings(report, "n-plus-one-query", "GET /listing")
    # 20 of 400 requests; the kept traces are the 20 and about 38 fast ones.
    assert loop["evidence"]["requests_affected"] == 20
    assert loop["severity"] == "info"
    seldom = loop["evidence"]["seldom"]
    assert seldom.startswith("in ~20 of the endpoint's ~")
    assert 250 <= int(seldom.split("~")[2].split()[0]) <= 550


def test_without_sampling_the_same_loop_is_seldom_by_its_count(tmp_path: Path) -> None:
    report = _report(tmp_path, 200, 20, path="/listing")
    [loop] = findings(report, "n-plus-one-query", "GET /listing")
    assert loop["severity"] == "info"
    assert loop["evidence"]["seldom"].startswith("in 10 of the endpoint's 200 requests:")


# A page slow in a third of its requests and fast in the rest: its cold read
# (cache-candidate: the median run is fast) or its slow webhook (background-job:
# in the median request the write is a sliver of its time).  The tail rule keeps
# the slow third and a tenth of the others, so among the kept traces alone the
# slow requests were the median ones.
NOW_AND_THEN = [("/report", "cache-candidate"), ("/notify", "background-job-candidate")]


@pytest.mark.parametrize(("path", "detector"), NOW_AND_THEN)
def test_slow_a_third_of_the_time_is_no_finding_when_sampled(
    tmp_path: Path, path: str, detector: str
) -> None:
    report = _report(tmp_path, 150, 3, "--sample", "0.1", path=path)
    assert report["sampled"][f"GET {path}"]["kept"] <= 50 + 20
    assert findings(report, detector) == []


@pytest.mark.parametrize(
    ("path", "detector", "figure", "least"),
    [("/report", "cache-candidate", "p50_ms", 60), ("/notify", "background-job-candidate", "share", 0.5)],
)
def test_slow_every_time_is_a_finding(
    tmp_path: Path, path: str, detector: str, figure: str, least: float
) -> None:
    report = _report(tmp_path, 10, 1, path=path)
    [found] = findings(report, detector, f"GET {path}")
    assert found["evidence"]["requests_affected"] == 10
    assert found["evidence"][figure] >= least

"""Response capture and the response detectors on a Flask app served by gunicorn
under ``perfdoctor run --memory``, driven over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.capture.apps_support import app_env, gunicorn, marker_line, resolve
from tests.conftest import free_port, report_json
from tests.responses.support import (
    APPS,
    OURS,
    Plan,
    Run,
    drive,
    none_of,
    one,
    serve,
    wait_stored,
    webhook_server,
)

APP = APPS / "flask_responses.py"
PLAN: Plan = {
    "GET /items": ("GET", "/items", 2),
    "GET /items/paged": ("GET", "/items/paged", 2),
    "GET /items/limited": ("GET", "/items/limited?limit=120", 2),
    "GET /catalog": ("GET", "/catalog", 5),
    "GET /catalog/cached": ("GET", "/catalog/cached", 5),
    "GET /status": ("GET", "/status", 15),
    "GET /me/public": ("GET", "/me/public", 4),
    "GET /me/private": ("GET", "/me/private", 4),
    "GET /slow": ("GET", "/slow", 2),
    "GET /fast": ("GET", "/fast", 2),
    "GET /report/big": ("GET", "/report/big", 1),
    "GET /report/small": ("GET", "/report/small", 1),
    "POST /signup": ("POST", "/signup", 2),
    "POST /signup/queued": ("POST", "/signup/queued", 2),
    "POST /checkout": ("POST", "/checkout", 2),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("flask-responses")
    traces = folder / "traces.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with webhook_server() as hook:
        env = app_env(WEBHOOK_URL=hook)
        command = [*gunicorn(port, "-w", "1")]
        command[1] = "flask_responses:app"
        with serve(command, traces, f"{base}/fast", APPS, env, "--memory"):
            bodies, expected = drive(base, PLAN)
            expected["GET /fast"] += 1  # the readiness probe
            stored = wait_stored(traces, expected)
    return Run(stored, report_json(traces, cwd=APPS), bodies)


def test_response_bytes_items_and_headers_are_captured(run: Run) -> None:
    for trace in run.named("GET /items"):
        assert trace.attrs["response"]["bytes"] == len(run.bodies["GET /items"])
        assert trace.attrs["response"]["items"] == 150
        assert trace.attrs["response"]["paginated"] is False
        assert trace.attrs["response_headers"]["content-type"] == "application/json"
        assert trace.attrs["framework"] == "flask"
        assert trace.attrs["handler"]["function"] == "items"
        assert Path(trace.attrs["handler"]["path"]) == APP.resolve()
        assert 0 < trace.attrs["response_ms"] <= trace.duration_ms
    for trace in run.named("GET /items/paged"):
        assert trace.attrs["response"]["items"] == 50
        assert trace.attrs["response"]["paginated"] is True
    for trace in run.named("GET /items/limited"):
        assert trace.attrs["query_names"] == ["limit"]
    for trace in run.named("GET /catalog/cached"):
        headers = trace.attrs["response_headers"]
        assert headers["etag"] == '"catalog-v1"'
        assert "max-age=60" in headers["cache-control"]
    digests = {t.attrs["response"]["body_digest"] for t in run.named("GET /catalog")}
    assert len(digests) == 1
    # Per-user bodies differ, and the user is a digest, never the token.
    users = {t.attrs["user"] for t in run.named("GET /me/public")}
    assert len(users) == 2 and not {"alice", "bob"} & users


def test_memory_peak_and_allocation_sites_are_captured(run: Run) -> None:
    (big,) = run.named("GET /report/big")
    memory = big.attrs["memory"]
    assert memory["peak_kb"] >= 120 * 1024
    top = memory["top"][0]
    assert Path(top["path"]) == APP.resolve()
    assert top["line"] == marker_line(APP, "high-memory: canvas")
    assert top["kb"] >= 120 * 1024
    (small,) = run.named("GET /report/small")
    assert small.attrs["memory"]["peak_kb"] < 50 * 1024
    for trace in run.named("GET /fast"):
        assert trace.attrs["memory"]["peak_kb"] < 10 * 1024


def test_missing_pagination(run: Run) -> None:
    finding = one(run.report, "missing-pagination", "GET /items")
    assert finding["severity"] == "warning"
    assert finding["evidence"]["items"] == 150
    assert finding["evidence"]["bytes"] == len(run.bodies["GET /items"])
    assert finding["location"]["function"] == "items"
    assert resolve(finding["location"]["path"], APPS) == APP.resolve()
    assert "per_page" in finding["fix"] and "request.args" in finding["fix"]
    none_of(run.report, ("missing-pagination",), "GET /items/paged")
    none_of(run.report, ("missing-pagination",), "GET /items/limited")


def test_missing_http_cache(run: Run) -> None:
    finding = one(run.report, "missing-http-cache", "GET /catalog")
    assert finding["evidence"]["identical_responses"] == 5
    assert finding["evidence"]["bytes"] == len(run.bodies["GET /catalog"])
    assert "make_response(" in finding["fix"] and "make_conditional" in finding["fix"]
    public = one(run.report, "missing-http-cache", "GET /me/public")
    assert public["severity"] == "error"
    assert public["evidence"]["users"] == 2
    assert "private" in public["fix"]
    for endpoint in ("GET /catalog/cached", "GET /me/private", "GET /items/paged"):
        none_of(run.report, ("missing-http-cache",), endpoint)
    assert "versions_resent" not in finding["evidence"]  # one body, resent


def test_missing_http_cache_counts_every_version_resent(run: Run) -> None:
    # Three versions of the page, each sent five times: twelve of the fifteen could
    # have been a 304, not the four repeats of one version.
    finding = one(run.report, "missing-http-cache", "GET /status")
    evidence = finding["evidence"]
    assert evidence["identical_responses"] == 5
    assert evidence["versions_resent"] == 3
    assert evidence["requests_affected"] == 15
    assert evidence["bytes_resent"] == 3 * 4 * evidence["bytes"]
    assert "(3 versions resent, 15 responses in all)" in finding["title"]


def test_slow_endpoint(run: Run) -> None:
    finding = one(run.report, "slow-endpoint", "GET /slow")
    evidence = finding["evidence"]
    assert evidence["requests"] == 2
    assert evidence["p95_ms"] >= 500
    assert evidence["biggest"] == "python"
    assert evidence["python_ms"] > evidence["db_ms"] + evidence["http_ms"]
    assert "profile" in finding["fix"]
    none_of(run.report, ("slow-endpoint",), "GET /fast")


def test_high_memory(run: Run) -> None:
    finding = one(run.report, "high-memory", "GET /report/big")
    assert finding["severity"] == "error"
    assert finding["location"]["line"] == marker_line(APP, "high-memory: canvas")
    assert finding["location"]["function"] == "report_big"
    assert finding["evidence"]["peak_kb"] >= 120 * 1024
    assert finding["evidence"]["top"][0]["line"] == finding["location"]["line"]
    none_of(run.report, ("high-memory",), "GET /report/small")


def test_background_job_candidate(run: Run) -> None:
    finding = one(run.report, "background-job-candidate", "POST /signup")
    assert finding["location"]["line"] == marker_line(APP, "background: welcome")
    assert finding["evidence"]["share"] >= 0.5
    assert finding["evidence"]["calls"] == ["POST http://127.0.0.1/send"] or finding["evidence"][
        "calls"
    ][0].startswith("POST ")
    assert "RQ" in finding["fix"] or "Celery" in finding["fix"]
    none_of(run.report, OURS, "POST /signup/queued")
    # A slow write whose answer the response returns is not a job for a queue.
    none_of(run.report, ("background-job-candidate",), "POST /checkout")
    none_of(run.report, OURS, "GET /fast")

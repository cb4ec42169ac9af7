"""Response capture and the response detectors on a FastAPI app served by uvicorn
under ``perfdoctor run --memory``: the ASGI path, BackgroundTasks as the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.capture.apps_support import app_env, console_script, marker_line, resolve
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

APP = APPS / "fastapi_responses.py"
PLAN: Plan = {
    "GET /items": ("GET", "/items", 2),
    "GET /items/page": ("GET", "/items/page?limit=50&offset=0", 2),
    "GET /catalog": ("GET", "/catalog", 5),
    "GET /catalog/cached": ("GET", "/catalog/cached", 5),
    "GET /slow": ("GET", "/slow", 2),
    "GET /report/big": ("GET", "/report/big", 1),
    "POST /signup": ("POST", "/signup", 2),
    "POST /signup/background": ("POST", "/signup/background", 2),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    traces = tmp_path_factory.mktemp("fastapi-responses") / "traces.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        console_script("uvicorn"),
        "fastapi_responses:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with (
        webhook_server() as hook,
        serve(command, traces, f"{base}/fast", APPS, app_env(WEBHOOK_URL=hook), "--memory"),
    ):
        bodies, expected = drive(base, PLAN)
        stored = wait_stored(traces, expected)
    return Run(stored, report_json(traces, cwd=APPS), bodies)


def test_asgi_response_capture(run: Run) -> None:
    for trace in run.named("GET /items"):
        response = trace.attrs["response"]
        assert response["bytes"] == len(run.bodies["GET /items"])
        assert response["items"] == 300 and response["paginated"] is False
        assert trace.attrs["framework"] == "fastapi"
        assert trace.attrs["handler"]["function"] == "items"
        assert Path(trace.attrs["handler"]["path"]) == APP.resolve()
    for trace in run.named("GET /items/page"):
        assert trace.attrs["response"]["items"] == 50
        assert trace.attrs["response"]["paginated"] is True
        assert trace.attrs["query_names"] == ["limit", "offset"]
    for trace in run.named("GET /catalog/cached"):
        assert trace.attrs["response_headers"]["cache-control"] == "max-age=60"
    (big,) = run.named("GET /report/big")
    assert big.attrs["memory"]["peak_kb"] >= 110 * 1024
    assert big.attrs["memory"]["top"][0]["line"] == marker_line(APP, "high-memory: canvas")


def test_background_tasks_run_after_the_response(run: Run) -> None:
    for trace in run.named("POST /signup/background"):
        sent = trace.attrs["response_ms"]
        calls = [s for s in trace.spans if s.kind == "http"]
        assert calls and all(s.start_ms >= sent for s in calls)


def test_detectors_fire_on_the_asgi_endpoints(run: Run) -> None:
    pagination = one(run.report, "missing-pagination", "GET /items")
    assert pagination["evidence"]["items"] == 300
    assert "limit: int = Query" in pagination["fix"]
    uncached = one(run.report, "missing-http-cache", "GET /catalog")
    assert uncached["evidence"]["bytes"] == len(run.bodies["GET /catalog"])
    # What /catalog/cached does (and which the test below finds clean).
    assert "response: Response" in uncached["fix"] and "status_code=304" in uncached["fix"]
    slow = one(run.report, "slow-endpoint", "GET /slow")
    assert slow["evidence"]["biggest"] == "python"
    memory = one(run.report, "high-memory", "GET /report/big")
    assert memory["severity"] == "error"
    assert resolve(memory["location"]["path"], APPS) == APP.resolve()
    background = one(run.report, "background-job-candidate", "POST /signup")
    assert background["location"]["line"] == marker_line(APP, "background: welcome")
    assert "BackgroundTasks" in background["fix"]


def test_the_fixes_are_clean(run: Run) -> None:
    for endpoint in ("GET /items/page", "GET /catalog/cached", "POST /signup/background"):
        none_of(run.report, OURS, endpoint)

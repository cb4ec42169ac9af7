"""Response capture and the response detectors on a Django site under ``perfdoctor run``."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from perfdoctor.model import Trace
from tests.capture.apps_support import app_env
from tests.conftest import free_port, report_json
from tests.responses.support import APPS, OURS, none_of, ok, one, serve, wait_stored

APP = APPS / "django_responses.py"
PLAN = {
    "GET /items/": ("/items/", 2),
    "GET /items/paged/": ("/items/paged/?page=2", 2),
    "GET /catalog/": ("/catalog/", 5),
    "GET /catalog/cached/": ("/catalog/cached/", 5),
    "GET /me/public/": ("/me/public/", 4),
    "GET /me/private/": ("/me/private/", 4),
    "GET /stream/": ("/stream/", 1),
}


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[Trace], dict[str, Any], dict[str, bytes]]:
    traces = tmp_path_factory.mktemp("django-responses") / "traces.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, APP.name, "runserver", "--noreload", f"127.0.0.1:{port}"]
    bodies = {}
    with serve(command, traces, f"{base}/health/", APPS, app_env()):
        for name, (path, count) in PLAN.items():
            for i in range(count):
                bodies[name] = ok(base + path, user=f"token-{('alice', 'bob')[i % 2]}")
        stored = wait_stored(traces, {name: count for name, (_, count) in PLAN.items()})
    return stored, report_json(traces, cwd=APPS), bodies


def test_django_response_capture(run: tuple[list[Trace], dict[str, Any], dict[str, bytes]]) -> None:
    traces, _, bodies = run
    by_name: dict[str, list[Trace]] = {}
    for trace in traces:
        by_name.setdefault(trace.name, []).append(trace)
    for trace in by_name["GET /items/"]:
        assert trace.attrs["response"]["bytes"] == len(bodies["GET /items/"])
        assert trace.attrs["response"]["items"] == 120
        assert trace.attrs["framework"] == "django"
        assert trace.attrs["handler"]["function"] == "items"
    for trace in by_name["GET /items/paged/"]:
        assert trace.attrs["response"]["items"] == 25
        assert trace.attrs["response"]["paginated"] is True
        assert trace.attrs["query_names"] == ["page"]
    for trace in by_name["GET /catalog/cached/"]:
        headers = trace.attrs["response_headers"]
        assert headers["cache-control"] == "max-age=60"
        assert headers["etag"] == '"catalog-v1"'
        assert trace.attrs["handler"]["function"] == "catalog_cached"
    # A streamed body is counted as the server sends it (never read ahead: that
    # would consume it), and still served whole.
    (streamed,) = by_name["GET /stream/"]
    assert bodies["GET /stream/"].count(b"\n") == 100
    assert streamed.attrs["response"]["bytes"] == len(bodies["GET /stream/"])


def test_django_detectors(run: tuple[list[Trace], dict[str, Any], dict[str, bytes]]) -> None:
    _, report, _ = run
    pagination = one(report, "missing-pagination", "GET /items/")
    assert pagination["evidence"]["items"] == 120
    assert "Paginator" in pagination["fix"] and "pagination_class" in pagination["fix"]
    assert pagination["location"]["function"] == "items"
    cache = one(report, "missing-http-cache", "GET /catalog/")
    assert cache["evidence"]["identical_responses"] == 5
    assert "@cache_control" in cache["fix"]
    public = one(report, "missing-http-cache", "GET /me/public/")
    assert public["severity"] == "error"
    assert "private=True" in public["fix"]
    for endpoint in ("GET /items/paged/", "GET /catalog/cached/", "GET /me/private/"):
        none_of(report, OURS, endpoint)

"""Real web apps calling a local upstream, each under ``perfdoctor run`` as a user would start it.

Flask (dev server) calls the upstream with requests; FastAPI (uvicorn) with
httpx.AsyncClient.  Every detector fires on its endpoint, at the marked line, and
none on the ``/fixed`` twins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.capture.apps_support import (
    app_env,
    console_script,
    count_named,
    get_ok,
    marker_line,
    resolve,
    wait_for_traces,
)
from tests.conftest import findings, free_port, report_json, serve_under_perfdoctor

APPS = Path(__file__).parent / "apps"
ROUNDS = 3
PATHS = (
    "/basket",
    "/basket/fixed",
    "/dashboard/{n}",
    "/dashboard/{n}/fixed",
    "/profile/{n}",
    "/profile/{n}/fixed",
)
# Both shop apps' endpoints under PATHS, by route name -> the endpoint perfdoctor names.
SHOP_ENDPOINTS = {
    "basket": "GET /basket",
    "basket/fixed": "GET /basket/fixed",
    "dashboard": "GET /dashboard/{user_id}",
    "dashboard/fixed": "GET /dashboard/{user_id}/fixed",
    "profile": "GET /profile/{user_id}",
    "profile/fixed": "GET /profile/{user_id}/fixed",
}
# uncached-external wants 5 identical fetches (settings.uncached_external_min_calls).
PRICE_ROUNDS = 5
HTTP_DETECTORS = ("n-plus-one-http", "sequential-http", "http-no-timeout", "uncached-external")


def _serve_and_report(
    tmp_path: Path,
    command: list[str],
    upstream: str,
    templates: dict[str, str],
    drive: tuple[str, ...],
    prices: tuple[str, ...] = (),
) -> dict[str, Any]:
    traces = tmp_path / "traces.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = app_env(SHOP_UPSTREAM=upstream)
    with serve_under_perfdoctor(
        [*command, "--port", str(port)], traces, f"{base}/health", cwd=APPS, env=env
    ):
        for n in range(1, ROUNDS + 1):
            for path in drive:
                get_ok(base + path.format(n=n))
        for path in prices:
            for _ in range(PRICE_ROUNDS):
                get_ok(base + path)
        for key, name in templates.items():
            wait_for_traces(traces, count_named(name, PRICE_ROUNDS if "prices" in key else ROUNDS))
    return report_json(traces, cwd=tmp_path)


def _at(finding: dict[str, Any], source: Path, marker: str, cwd: Path) -> None:
    location = finding["location"]
    assert resolve(location["path"], cwd) == source.resolve(), location
    assert location["line"] == marker_line(source, marker), location


def _check(
    report: dict[str, Any],
    source: Path,
    cwd: Path,
    names: dict[str, str],
    system: str,
    has_uncached: bool,
) -> None:
    [n1] = findings(report, "n-plus-one-http", names["basket"])
    _at(n1, source, "n+1: basket", cwd)
    assert n1["evidence"]["count"] == 8
    assert n1["evidence"]["system"] == system
    assert n1["evidence"]["url"].endswith("/items/{id}")
    assert resolve(n1["evidence"]["loop"]["path"], cwd) == source.resolve()
    assert n1["evidence"]["loop"]["line"] == marker_line(source, "loop: basket")
    assert n1["evidence"]["requests_affected"] == ROUNDS

    [seq] = findings(report, "sequential-http", names["dashboard"])
    _at(seq, source, "sequential: dashboard", cwd)
    assert seq["evidence"]["count"] == 3
    assert [c.split()[1].rsplit("/", 2)[1] for c in seq["evidence"]["calls"]] == [
        "users",
        "orders",
        "stock",
    ]

    [no_timeout] = findings(report, "http-no-timeout", names["profile"])
    _at(no_timeout, source, "no-timeout: profile", cwd)
    assert no_timeout["evidence"]["library"] == system

    if has_uncached:
        [uncached] = findings(report, "uncached-external", names["prices"])
        _at(uncached, source, "uncached: prices", cwd)
        assert uncached["evidence"]["calls"] == PRICE_ROUNDS
        assert uncached["evidence"]["traces"] == PRICE_ROUNDS
        assert uncached["evidence"]["identical"] == "body"

    fixed = {name for key, name in names.items() if key.endswith("/fixed")}
    for detector in HTTP_DETECTORS:
        leaked = [f for f in findings(report, detector) if f["endpoint"] in fixed]
        assert leaked == [], leaked


def test_flask_with_requests(tmp_path: Path, upstream: str) -> None:
    names = {
        **SHOP_ENDPOINTS,
        "prices": "GET /prices",
        "prices/fixed": "GET /prices/fixed",
    }
    command = [console_script("flask"), "--app", "flask_shop", "run"]
    report = _serve_and_report(
        tmp_path, command, upstream, names, PATHS, prices=("/prices", "/prices/fixed")
    )
    _check(report, APPS / "flask_shop.py", tmp_path, names, "requests", has_uncached=True)


def test_fastapi_with_httpx_async_client(tmp_path: Path, upstream: str) -> None:
    names = dict(SHOP_ENDPOINTS)
    command = [console_script("uvicorn"), "fastapi_shop:app"]
    report = _serve_and_report(tmp_path, command, upstream, names, PATHS)
    _check(report, APPS / "fastapi_shop.py", tmp_path, names, "httpx", has_uncached=False)
    [seq] = findings(report, "sequential-http", "GET /dashboard/{user_id}")
    assert "asyncio.gather" in seq["fix"]

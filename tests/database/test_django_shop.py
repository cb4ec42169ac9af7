"""A Django shop under ``perfdoctor run -- gunicorn`` (one sync worker, so a kept
connection is reused): result-size, pagination and connection findings, on
SQLite and PostgreSQL, next to their idiomatic fixes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tests.capture.apps_support import (
    app_env,
    console_script,
    finding_at,
    get_ok,
    marker_line,
    resolve,
)
from tests.conftest import findings, free_port, report_json, serve_under_perfdoctor

SITE = Path(__file__).parent / "apps" / "dbsite"
VIEWS = SITE / "shop" / "views.py"
PRODUCTS = 3000  # seed_shop.PRODUCTS
REQUESTS = 3
DEEP_PAGE = 120  # offset (120 - 1) * 20
PATHS = [
    "/products/",
    "/products/fixed/",
    "/products/recent/",
    "/products/recent/fixed/",
    f"/catalogue/?page={DEEP_PAGE}",
    f"/catalogue/fixed/?after={(DEEP_PAGE - 1) * 20}",
    "/stock/",
    "/stock/fixed/",
]
DETECTORS = (
    "unbounded-query",
    "large-offset",
    "select-star",
    "python-side-aggregation",
    "no-connection-reuse",
)


def _serve(
    tmp_path: Path, env: dict[str, str], name: str, runserver: bool = False
) -> dict[str, Any]:
    seeded = subprocess.run(
        [sys.executable, "manage.py", "seed_shop"],
        cwd=SITE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr
    traces = tmp_path / f"{name}.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        console_script("gunicorn"),
        "dbsite.wsgi:application",
        "-b",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
    ]
    if runserver:  # Django's development server: a new thread per request
        command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    with serve_under_perfdoctor(command, traces, f"{base}/health/", cwd=SITE, env=env):
        for _ in range(REQUESTS):
            for path in PATHS:
                get_ok(base + path)
    return report_json(traces, cwd=tmp_path)


def _at(finding: dict[str, Any], marker: str, cwd: Path) -> None:
    location = finding["location"]
    assert resolve(location["path"], cwd) == VIEWS.resolve(), location
    assert location["line"] == marker_line(VIEWS, marker), location


def _check_result_sizes(report: dict[str, Any], tmp_path: Path) -> None:
    unbounded = finding_at(report, "unbounded-query", "GET /products/")
    _at(unbounded, "unbounded: django", tmp_path)
    assert unbounded["evidence"]["rows"] == PRODUCTS
    assert "LIMIT" not in unbounded["evidence"]["statement"].upper()
    assert "Paginator" in unbounded["fix"]

    star = finding_at(report, "select-star", "GET /products/recent/")
    _at(star, "star: django", tmp_path)
    assert star["evidence"]["rows"] == 800
    assert star["evidence"]["wide_columns"] == ["body"]
    assert ".only(" in star["fix"]

    offset = finding_at(report, "large-offset", "GET /catalogue/")
    _at(offset, "offset: django", tmp_path)
    assert offset["evidence"]["offset"] == (DEEP_PAGE - 1) * 20
    assert offset["evidence"]["rows"] == 20
    assert "id__gt" in offset["fix"]

    aggregate = finding_at(report, "python-side-aggregation", "GET /stock/")
    _at(aggregate, "aggregate: django", tmp_path)
    assert aggregate["evidence"]["rows"] == PRODUCTS
    assert aggregate["evidence"]["response_bytes"] < 100
    assert ".aggregate(" in aggregate["fix"]

    for fixed in PATHS[1::2]:
        endpoint = "GET " + fixed.split("?")[0]
        for detector in DETECTORS[:4]:
            assert not findings(report, detector, endpoint), (detector, endpoint)
    # Many rows for a tiny answer is one finding, not two.
    assert not findings(report, "unbounded-query", "GET /stock/")


def _one_reuse_finding(report: dict[str, Any]) -> dict[str, Any]:
    """Django's CONN_MAX_AGE is one setting: every endpoint that connected per
    request is in one finding, not one finding each."""
    [reuse] = findings(report, "no-connection-reuse")
    endpoints = [reuse["endpoint"]] + [e["endpoint"] for e in reuse["evidence"]["also_on"]]
    assert sorted(endpoints) == sorted({"GET " + path.split("?")[0] for path in PATHS})
    assert reuse["evidence"]["requests_with_connect"] == REQUESTS * len(PATHS)
    assert reuse["title"].startswith(
        f"No connection reuse: {REQUESTS * len(PATHS)} of {REQUESTS * len(PATHS)} "
        f"requests on {len(PATHS)} endpoints"
    )
    return reuse


def test_sqlite_shop_without_persistent_connections(tmp_path: Path) -> None:
    env = app_env(SHOP_SQLITE=str(tmp_path / "shop.sqlite3"), SHOP_CONN_MAX_AGE="0")
    report = _serve(tmp_path, env, "sqlite")
    _check_result_sizes(report, tmp_path)
    reuse = _one_reuse_finding(report)
    # Opening SQLite is a file open: worth knowing, not a warning.
    assert reuse["severity"] == "info"
    assert reuse["evidence"]["framework"] == "django"
    assert "CONN_MAX_AGE" in reuse["fix"]
    # gunicorn's sync worker serves every request on its one thread.
    assert not reuse["fix"].startswith("Each of these requests ran in a new thread")


def test_runserver_keeps_no_connection_whatever_conn_max_age_says(tmp_path: Path) -> None:
    # CONN_MAX_AGE is set, which fixes this under gunicorn (the test above); under
    # runserver each request's thread takes its connection with it, and the fix
    # must say so before it names the setting.
    env = app_env(SHOP_SQLITE=str(tmp_path / "shop.sqlite3"), SHOP_CONN_MAX_AGE="60")
    report = _serve(tmp_path, env, "runserver", runserver=True)
    reuse = _one_reuse_finding(report)
    assert reuse["fix"].startswith("Each of these requests ran in a new thread ('Thread-")
    assert "process_request_thread" in reuse["fix"]
    assert "Django's runserver" in reuse["fix"]


def _pg_env(postgres_url: str, age: str) -> dict[str, str]:
    url = urlparse(postgres_url)
    return app_env(
        SHOP_PG_NAME=url.path.lstrip("/"),
        SHOP_PG_HOST=url.hostname or "127.0.0.1",
        SHOP_PG_PORT=str(url.port or 5432),
        SHOP_PG_USER=url.username or "postgres",
        SHOP_CONN_MAX_AGE=age,
    )


def test_postgresql_shop_connects_per_request_until_conn_max_age(
    tmp_path: Path, postgres_url: str
) -> None:
    report = _serve(tmp_path, _pg_env(postgres_url, "0"), "age0")
    _check_result_sizes(report, tmp_path)
    reuse = _one_reuse_finding(report)
    assert reuse["severity"] == "warning"
    assert reuse["evidence"]["system"] == "postgresql"
    # The app's Django (from its catalog) has both: named without a version caveat.
    assert "CONN_MAX_AGE'] = 60 (with CONN_HEALTH_CHECKS = True) so" in reuse["fix"]
    assert reuse["evidence"]["connections_per_request"] == 1
    # Where the endpoint that spent the most on connecting first needed one.
    assert reuse["location"]["path"].endswith("shop/views.py")
    assert "CONN_MAX_AGE" in reuse["fix"] and '"pool": True' in reuse["fix"]

    kept = _serve(tmp_path, _pg_env(postgres_url, "60"), "age60")
    assert not findings(kept, "no-connection-reuse"), kept["findings"]

"""``perfdoctor run --server-timing``: real servers (Django's runserver, uvicorn with
FastAPI, Flask's), real requests, the header parsed as a browser would, and the
same header read by headless Chromium from the page's navigation timing."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from tests.capture.apps_support import FASTAPI_APP, FLASK_APP, app_env, console_script, seed
from tests.capture.conftest import PAGE_SIZE, SITE, DjangoSite
from tests.conftest import free_port, serve_under_perfdoctor
from tests.live.support import parse_server_timing, queries_in, stored_requests


def fetch(url: str) -> tuple[int, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
        return response.status, {k.lower(): v for k, v in response.headers.items()}


def runserver(port: int) -> list[str]:
    return [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]


def test_django_responses_carry_their_db_time_and_query_count(django_sqlite: DjangoSite) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve_under_perfdoctor(
        runserver(port), django_sqlite.traces, f"{base}/health/", cwd=SITE,
        env=django_sqlite.env, options=("--server-timing",),
    ):
        status, headers = fetch(f"{base}/articles/")
        _, fixed_headers = fetch(f"{base}/articles/fixed/")
    assert status == 200
    metrics = parse_server_timing(headers["server-timing"])
    (stored,) = stored_requests(django_sqlite.traces, "GET /articles/")
    # Every query of the view ran before its response went out.
    assert queries_in(metrics) == len(stored.db_spans()) >= 1 + 2 * PAGE_SIZE
    assert 0 < float(metrics["db"]["dur"]) <= float(metrics["app"]["dur"]) <= stored.duration_ms
    assert "http" not in metrics and "cache" not in metrics  # the view called neither

    fixed = parse_server_timing(fixed_headers["server-timing"])
    (stored_fixed,) = stored_requests(django_sqlite.traces, "GET /articles/fixed/")
    assert queries_in(fixed) == len(stored_fixed.db_spans()) < queries_in(metrics)


def test_no_header_without_the_flag(django_sqlite: DjangoSite) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve_under_perfdoctor(
        runserver(port), django_sqlite.traces, f"{base}/health/", cwd=SITE, env=django_sqlite.env,
    ):
        status, headers = fetch(f"{base}/articles/")
    assert status == 200 and "server-timing" not in headers
    assert stored_requests(django_sqlite.traces, "GET /articles/")  # captured all the same


def test_fastapi_under_uvicorn(tmp_path: Path) -> None:
    env = app_env(INVENTORY_DATABASE_URL=f"sqlite:///{tmp_path / 'inventory.db'}")
    seed(FASTAPI_APP, env)
    traces = tmp_path / "traces.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [console_script("uvicorn"), "app:app", "--port", str(port)]
    with serve_under_perfdoctor(
        command, traces, f"{base}/health", cwd=FASTAPI_APP, env=env, options=("--server-timing",)
    ):
        status, headers = fetch(f"{base}/items")
        _, health = fetch(f"{base}/health")
    assert status == 200
    metrics = parse_server_timing(headers["server-timing"])
    (stored,) = stored_requests(traces, "GET /items")
    assert queries_in(metrics) == len(stored.db_spans()) > 1  # the list, then one per item
    assert float(metrics["db"]["dur"]) > 0
    assert queries_in(parse_server_timing(health["server-timing"])) == 0


def test_flask_under_its_own_server(tmp_path: Path) -> None:
    env = app_env(BLOG_DATABASE_URL=f"sqlite:///{tmp_path / 'blog.db'}")
    seed(FLASK_APP, env)
    traces = tmp_path / "traces.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [console_script("flask"), "--app", "app", "run", "--port", str(port)]
    with serve_under_perfdoctor(
        command, traces, f"{base}/pid", cwd=FLASK_APP, env=env, options=("--server-timing",)
    ):
        status, headers = fetch(f"{base}/articles")
    assert status == 200
    metrics = parse_server_timing(headers["server-timing"])
    (stored,) = stored_requests(traces, "GET /articles")
    assert queries_in(metrics) == len(stored.db_spans()) > 1


def test_the_parser_reads_the_specs_examples() -> None:
    assert parse_server_timing('miss, db;dur=53, app;dur=47.2') == {
        "miss": {}, "db": {"dur": "53"}, "app": {"dur": "47.2"},
    }
    assert parse_server_timing('cache;desc="Cache Read";dur=23.2') == {
        "cache": {"desc": "Cache Read", "dur": "23.2"},
    }



def test_chromium_reads_the_timings_of_a_page(django_sqlite: DjangoSite, browser: Any) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve_under_perfdoctor(
        runserver(port), django_sqlite.traces, f"{base}/health/", cwd=SITE,
        env=django_sqlite.env, options=("--server-timing",),
    ):
        page = browser.new_page()
        try:
            page.goto(f"{base}/articles/", wait_until="load")
            entries = page.evaluate(
                """() => performance.getEntriesByType("navigation")[0].serverTiming
                    .map(e => ({name: e.name, duration: e.duration, description: e.description}))"""
            )
        finally:
            page.close()
    by_name = {e["name"]: e for e in entries}
    assert set(by_name) == {"db", "app"}, entries
    (stored,) = stored_requests(django_sqlite.traces, "GET /articles/")
    assert by_name["db"]["description"] == f"{len(stored.db_spans())} queries"
    assert 0 < by_name["db"]["duration"] <= by_name["app"]["duration"]


def test_bench_over_http_counts_each_requests_queries(
    django_sqlite: DjangoSite, tmp_path: Path
) -> None:
    # A fix proved over HTTP on a real server: the query counts come from the headers.
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    out = tmp_path / "bench.json"
    with serve_under_perfdoctor(
        runserver(port), django_sqlite.traces, f"{base}/health/", cwd=SITE,
        env=django_sqlite.env, options=("--server-timing",),
    ):
        done = subprocess.run(
            [
                sys.executable, "-m", "perfdoctor", "bench", "--url", base,
                "--endpoint", "GET /articles/", "--endpoint", "GET /articles/fixed/",
                "--requests", "6", "--rounds", "2", "--warmup", "1", "--output", str(out),
            ],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text())["endpoints"]
    for name in ("GET /articles/", "GET /articles/fixed/"):
        stored = stored_requests(django_sqlite.traces, name)
        counts = {len(trace.db_spans()) for trace in stored}
        assert len(counts) == 1  # the same page, the same queries
        assert rows[name]["queries_per_request"] == counts.pop()
        assert rows[name]["captured"] == 6  # the measured requests, not the warm-up
    assert rows["GET /articles/"]["queries_per_request"] >= 1 + 2 * PAGE_SIZE
    assert rows["GET /articles/fixed/"]["queries_per_request"] < PAGE_SIZE
    assert "--server-timing" not in done.stdout  # no hint: the counts are there

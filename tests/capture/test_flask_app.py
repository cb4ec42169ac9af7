"""The Flask + SQLAlchemy blog under ``perfdoctor run``, driven over HTTP.

``flask --app app run`` on SQLite and ``gunicorn -w 2`` on PostgreSQL: the N+1
on ``/articles`` is found at the attribute access inside the loop, the eager
loading twin is clean, and traces are named by their route templates.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.capture.apps_support import (
    FLASK_APP,
    app_env,
    assert_n_plus_one,
    console_script,
    count_named,
    endpoint,
    finding_at,
    get_ok,
    gunicorn,
    load,
    seed,
    sqlalchemy_postgres,
    wait_for_traces,
)
from tests.conftest import findings, free_port, get, report_json, serve_under_perfdoctor

ARTICLES = 12  # seed.py: one author per article
APP_FILE = FLASK_APP / "app.py"


def _drive(base: str) -> None:
    for _ in range(2):
        get_ok(f"{base}/articles")
        get_ok(f"{base}/articles/fixed")
    for article_id in (1, 2, 3):
        get_ok(f"{base}/articles/{article_id}")
    status, _ = get(f"{base}/articles/999")
    assert status == 404


def _check_report(report: dict[str, Any], cwd: Path, system: str, traces: Path) -> None:
    n_plus_one = finding_at(report, "n-plus-one-query", "GET /articles")
    assert_n_plus_one(
        n_plus_one, source=APP_FILE, marker="article_list", count=ARTICLES, cwd=cwd,
        framework="sqlalchemy", function="article_list",
    )
    evidence = n_plus_one["evidence"]
    assert "authors" in evidence["statement"]
    assert "articles" in evidence["parent_statement"]
    assert evidence["system"] == system
    assert n_plus_one["severity"] == "error"

    assert not findings(report, "n-plus-one-query", "GET /articles/fixed")
    assert not findings(report, "duplicate-query", "GET /articles/fixed")
    assert not findings(report, "n-plus-one-query", "GET /articles/{id}")

    names = {e["name"] for e in report["endpoints"]}
    assert {"GET /articles", "GET /articles/fixed", "GET /articles/{id}"} <= names
    assert not [name for name in names if re.search(r"/\d", name)], names
    assert endpoint(report, "GET /articles")["requests"] == 2
    assert endpoint(report, "GET /articles/{id}")["requests"] == 4
    assert endpoint(report, "GET /articles/fixed")["queries_per_request"] < ARTICLES

    # The raw store: every query of a request came through SQLAlchemy, from app.py,
    # with literals and parameter values kept out.
    requests = [t for t in load(traces) if t.name.startswith("GET /articles")]
    spans = [s for t in requests for s in t.db_spans()]
    assert spans
    for span in spans:
        assert span.framework == "sqlalchemy", span
        assert span.system == system
        assert span.location is not None and Path(span.location.path) == APP_FILE.resolve()
        assert "params" not in span.attrs
        assert "999" not in (span.statement or "")
    statuses = sorted(t.status or 0 for t in requests if t.name == "GET /articles/{id}")
    assert statuses == [200, 200, 200, 404]


def test_flask_run_on_sqlite(tmp_path: Path) -> None:
    env = app_env(BLOG_DATABASE_URL=f"sqlite:///{tmp_path / 'blog.db'}")
    seed(FLASK_APP, env)
    traces = tmp_path / "traces.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [console_script("flask"), "--app", "app", "run", "--port", str(port)]
    with serve_under_perfdoctor(command, traces, f"{base}/pid", cwd=FLASK_APP, env=env):
        _drive(base)
        wait_for_traces(traces, count_named("GET /articles/{id}", 4))
    _check_report(report_json(traces, cwd=tmp_path), tmp_path, "sqlite", traces)
    # Run from the app's folder, locations are relative to it.
    report = report_json(traces, cwd=FLASK_APP)
    location = finding_at(report, "n-plus-one-query", "GET /articles")["location"]
    assert location["path"] == "app.py"


@pytest.mark.postgres
def test_gunicorn_two_workers_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    env = app_env(BLOG_DATABASE_URL=sqlalchemy_postgres(postgres_url))
    seed(FLASK_APP, env)
    traces = tmp_path / "traces.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = gunicorn(port, "-w", "2")
    with serve_under_perfdoctor(command, traces, f"{base}/pid", cwd=FLASK_APP, env=env):
        _drive(base)
    # gunicorn stops its workers gracefully on SIGTERM: everything is written by now.
    _check_report(report_json(traces, cwd=tmp_path), tmp_path, "postgresql", traces)

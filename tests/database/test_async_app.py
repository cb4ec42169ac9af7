"""An async FastAPI app on asyncpg and SQLAlchemy's async engine (asyncpg and
aiosqlite) under ``perfdoctor run -- uvicorn``: sequential-db, blocking-in-async
and no-connection-reuse, each next to its idiomatic fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.capture.apps_support import (
    app_env,
    console_script,
    finding_at,
    get_ok,
    load,
    marker_line,
    resolve,
    seed,
)
from tests.conftest import findings, free_port, report_json, serve_under_perfdoctor

APP = Path(__file__).parent / "apps" / "async_app"
APP_FILE = APP / "app.py"
REQUESTS = 3


def _serve(tmp_path: Path, paths: list[str], **env_vars: str) -> dict[str, Any]:
    env = app_env(**env_vars)
    seed(APP, env)
    traces = tmp_path / "traces.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [console_script("uvicorn"), "app:app", "--port", str(port)]
    with serve_under_perfdoctor(command, traces, f"{base}/health", cwd=APP, env=env):
        for _ in range(REQUESTS):
            for path in paths:
                get_ok(base + path)
    report = report_json(traces, cwd=tmp_path)
    report["_traces"] = load(traces)
    return report


def _at(finding: dict[str, Any], marker: str, cwd: Path) -> None:
    location = finding["location"]
    assert resolve(location["path"], cwd) == APP_FILE.resolve(), location
    assert location["line"] == marker_line(APP_FILE, marker), location


SA_PATHS = [
    "/sa/stats",
    "/sa/stats/fixed",
    "/sa/blocking",
    "/sa/blocking/fixed",
    "/sa/engine-per-request",
    "/sa/items",
]
PG_PATHS = ["/pg/stats", "/pg/stats/fixed", "/pg/connect-per-request", "/pg/pooled"]


def _check_sqlalchemy(report: dict[str, Any], tmp_path: Path, system: str) -> None:
    sequential = finding_at(report, "sequential-db", "GET /sa/stats")
    _at(sequential, "seq: sa", tmp_path)
    evidence = sequential["evidence"]
    assert evidence["queries"] == 3, evidence
    assert evidence["system"] == system
    assert evidence["wasted_ms"] >= 100, evidence
    assert "AsyncSession" in sequential["fix"] and "gather" in sequential["fix"]

    blocking = finding_at(report, "blocking-in-async", "GET /sa/blocking")
    _at(blocking, "blocking: sa", tmp_path)
    assert blocking["evidence"]["kinds"] == ["db"]
    assert blocking["evidence"]["blocked_ms"] >= 150
    assert "run_in_threadpool" in blocking["fix"]

    reuse = finding_at(report, "no-connection-reuse", "GET /sa/engine-per-request")
    _at(reuse, "connect: sa", tmp_path)
    assert reuse["evidence"]["requests_with_connect"] == REQUESTS
    assert reuse["evidence"]["system"] == system
    assert reuse["evidence"]["framework"] == "sqlalchemy"
    assert "engine" in reuse["fix"]

    for clean in ("GET /sa/stats/fixed", "GET /sa/blocking/fixed", "GET /sa/items"):
        for detector in ("sequential-db", "blocking-in-async", "no-connection-reuse"):
            assert not findings(report, detector, clean), (detector, clean, report["findings"])


def _check_rows_and_connections(report: dict[str, Any]) -> None:
    """Each awaited query landed once, in its request's trace, with its rows."""
    traces = [t for t in report["_traces"] if t.name == "GET /sa/items"]
    assert len(traces) == REQUESTS
    for trace in traces:
        assert trace.attrs.get("async") is True
        [query] = [s for s in trace.db_spans() if "items" in (s.statement or "")]
        assert query.rows == 1, [(s.statement, s.rows) for s in trace.db_spans()]
        assert not query.attrs.get("blocks_event_loop")
    server = [t for t in report["_traces"] if t.kind == "server"]
    # Nothing of the requests leaked into the server's own trace (aiosqlite's thread).
    assert not any("items" in (s.statement or "") for t in server for s in t.spans)


def test_sqlalchemy_async_on_aiosqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite'}"
    report = _serve(tmp_path, SA_PATHS, ASYNC_APP_SA_URL=url)
    _check_sqlalchemy(report, tmp_path, "sqlite")
    _check_rows_and_connections(report)


def test_asyncpg_and_sqlalchemy_async_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    sa_url = postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    report = _serve(
        tmp_path, SA_PATHS + PG_PATHS, ASYNC_APP_SA_URL=sa_url, ASYNC_APP_PG_URL=postgres_url
    )
    _check_sqlalchemy(report, tmp_path, "postgresql")
    _check_rows_and_connections(report)

    sequential = finding_at(report, "sequential-db", "GET /pg/stats")
    _at(sequential, "seq: pg", tmp_path)
    assert sequential["evidence"]["queries"] == 3
    assert sequential["evidence"]["connections"] == 1
    assert "pool.acquire()" in sequential["fix"]

    reuse = finding_at(report, "no-connection-reuse", "GET /pg/connect-per-request")
    _at(reuse, "connect: pg", tmp_path)
    assert reuse["severity"] == "warning"
    assert reuse["evidence"]["connections_per_request"] == 1
    assert reuse["evidence"]["system"] == "postgresql"

    for clean in ("GET /pg/stats/fixed", "GET /pg/pooled"):
        for detector in ("sequential-db", "blocking-in-async", "no-connection-reuse"):
            assert not findings(report, detector, clean), (detector, clean, report["findings"])

"""``perfdoctor run --profile``: Python hot spots per endpoint and speedscope files.

A small Flask app (written to a temporary folder, so it is the user's code)
has an endpoint that burns ~50 ms of pure-Python CPU in a marked function and
runs one SQLite query; it is served by ``flask run`` under ``perfdoctor run``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.capture.apps_support import app_env, endpoint, get_ok, marker_line, wait_for_traces
from tests.conftest import free_port, report_json, run_perfdoctor, serve_under_perfdoctor

APP = """
import sqlite3
import time

from flask import Flask

app = Flask(__name__)


def crunch():  # hot-function
    deadline = time.perf_counter() + 0.05
    total = 0
    while time.perf_counter() < deadline:
        total += sum(i * i for i in range(200))
    return total


@app.get("/work")
def work():
    conn = sqlite3.connect(":memory:")
    try:
        # Enough work that the mean db time, kept to 0.01 ms, is never 0.0.
        rows = conn.execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) "
            "SELECT count(*) FROM c"
        ).fetchall()
    finally:
        conn.close()
    return {"rows": len(rows), "total": crunch()}
"""

REQUESTS = 3


def _serve(tmp_path: Path, profile: bool) -> Path:
    app_dir = tmp_path / "site"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(APP)
    traces = app_dir / ".perfdoctor" / "traces.jsonl"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port)]
    options = ("--profile",) if profile else ()
    with serve_under_perfdoctor(
        command, traces, f"{base}/work", cwd=app_dir, env=app_env(), options=options
    ):
        for _ in range(REQUESTS):
            get_ok(f"{base}/work")
        wait_for_traces(traces, lambda ts: sum(t.name == "GET /work" for t in ts) >= REQUESTS + 1)
    return traces


def test_profile_names_the_hot_function_and_writes_speedscope(tmp_path: Path) -> None:
    traces = _serve(tmp_path, profile=True)
    app_dir = traces.parent.parent
    report = report_json(traces, cwd=app_dir)
    work = endpoint(report, "GET /work")
    assert work["python_ms"] > 0
    assert work["db_ms"] > 0
    spots = work["hotspots"]
    line = marker_line(app_dir / "app.py", "hot-function")
    assert any(
        s["path"].endswith("app.py") and s["line"] == line and s["function"] == "crunch"
        for s in spots
    ), spots
    assert all(s["ms"] >= 0 for s in spots)

    text = run_perfdoctor("report", "--traces", str(traces), cwd=app_dir)
    assert text.returncode == 0, text.stderr
    assert "Hot spots" in text.stdout
    assert f"app.py:{line}" in text.stdout

    speedscope = traces.parent / "profiles" / "GET_work.speedscope.json"
    assert speedscope.exists(), list((traces.parent / "profiles").iterdir())
    data = json.loads(speedscope.read_text())
    assert "speedscope" in data["$schema"]
    assert data["profiles"]


def test_without_profile_nothing_is_profiled(tmp_path: Path) -> None:
    traces = _serve(tmp_path, profile=False)
    app_dir = traces.parent.parent
    report = report_json(traces, cwd=app_dir)
    work = endpoint(report, "GET /work")
    assert "hotspots" not in work
    text = run_perfdoctor("report", "--traces", str(traces), cwd=app_dir)
    assert "Hot spots" not in text.stdout
    assert not (traces.parent / "profiles").exists()

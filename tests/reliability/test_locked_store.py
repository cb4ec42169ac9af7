"""Another process holds the store: the app neither waits for it nor loses its traces.

A backup, a long report or a second writer can hold the store for minutes.  A
captured process then ends within its exit timeout (2 s by default), setting
aside what it could not write in the spool beside the store; the next report
(or writer) adds those traces once the store is free.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perfdoctor import store
from perfdoctor.store import spool
from tests.capture.apps_support import app_env, get_many, gunicorn
from tests.conftest import free_port, perfdoctor_cmd, report_json, run_perfdoctor, wait_http
from tests.reliability.support import HERE, ONE_QUERY, holding, names_in, requests_of

# Generous: the exit timeout is 2 s; before, such a script took minutes.
PROMPT_S = 15


def _one_query(traces: Path, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = run_perfdoctor(
        "run", "--traces", str(traces), "--", sys.executable, str(ONE_QUERY), cwd=cwd, env=app_env()
    )
    return result, time.monotonic() - started


def _report(traces: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_perfdoctor("report", "--traces", str(traces), "--format", "json", cwd=cwd)


def test_a_script_ends_promptly_while_the_store_is_held_and_report_adds_its_trace(
    tmp_path: Path,
) -> None:
    traces = tmp_path / "traces.db"
    # A free store: the trace goes straight in, nothing is set aside, no warning.
    result, _ = _one_query(traces, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert names_in(traces) == ["one_query.py"]
    assert spool.files(traces) == []

    with holding(traces, "exclusive"):
        result, took = _one_query(traces, tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "queried\n"
        assert took < PROMPT_S, f"the script took {took:.1f} s to end"
        assert "Traceback" not in result.stderr, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert "held by another process" in lines[0] and str(spool.folder(traces)) in lines[0]
        assert names_in(traces) == ["one_query.py"]  # not in yet
        assert [spool.count(file) for file in spool.files(traces)] == [1]

        # A report meanwhile shows what it has, and says one trace is not in it yet.
        during = _report(traces, tmp_path)
        assert during.returncode == 0, during.stderr
        assert requests_of(json.loads(during.stdout), "one_query.py") == 1
        assert "1 trace(s) set aside" in during.stderr, during.stderr

    after = _report(traces, tmp_path)
    assert after.returncode == 0, after.stderr
    assert requests_of(json.loads(after.stdout), "one_query.py") == 2
    assert after.stderr == ""
    assert spool.files(traces) == []
    assert not spool.folder(traces).exists()


def test_a_long_read_of_the_store_does_not_hold_a_script_up(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    store.open_for_writing(traces).close()
    with holding(traces, "read"):
        result, took = _one_query(traces, tmp_path)
        assert result.returncode == 0, result.stderr
        assert took < PROMPT_S, f"the script took {took:.1f} s to end"
        assert result.stderr == ""
        # WAL: a reader never blocks the writer, so nothing had to wait.
        assert names_in(traces) == ["one_query.py"]
    assert spool.files(traces) == []


def test_gunicorn_stops_gracefully_and_promptly_with_the_store_held(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    store.open_for_writing(traces).close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    urls = [f"{base}/items/{i}" for i in range(20)]
    with holding(traces, "exclusive"):
        server = subprocess.Popen(
            perfdoctor_cmd("run", "--traces", str(traces), "--",
                           *gunicorn(port, "-w", "2", app="wsgi_app:app")),
            cwd=HERE, env=app_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )
        try:
            wait_http(f"{base}/ready", process=server)
            assert {status for status, _ in get_many(urls, workers=4)} == {200}
            started = time.monotonic()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
            took = time.monotonic() - started
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
        output = server.stdout.read() if server.stdout else ""
        # gunicorn kills a worker still busy 30 s into a graceful stop (its traces lost).
        assert took < PROMPT_S, f"gunicorn took {took:.1f} s to stop:\n{output}"
        assert server.returncode == 0, output
        assert "Traceback" not in output, output
        assert "Shutting down: Master" in output, output
        assert sum(spool.count(file) for file in spool.files(traces)) >= len(urls)

    report = report_json(traces, cwd=tmp_path)
    assert requests_of(report, "GET /items/{item_id}") == len(urls)
    assert spool.files(traces) == []


@pytest.mark.parametrize("spool_blocked", [False, True])
def test_a_running_app_keeps_little_in_memory_while_the_store_is_held(
    tmp_path: Path, spool_blocked: bool
) -> None:
    traces = tmp_path / "traces.db"
    store.open_for_writing(traces).close()
    if spool_blocked:  # a file where the spool folder goes: nowhere to set traces aside
        spool.folder(traces).write_text("in the way\n")
    count = 300
    with holding(traces, "exclusive"):
        app = subprocess.Popen(
            [sys.executable, str(HERE / "busy_producer.py"), str(traces), str(count)],
            cwd=tmp_path, env=app_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        assert app.stdout is not None and app.stdin is not None
        while_held = json.loads(app.stdout.readline() or "{}")
    # Let go of the store while the app still runs: it writes what it kept.
    app.stdin.write("go\n")
    app.stdin.close()
    assert app.wait(timeout=60) == 0
    stderr = app.stderr.read() if app.stderr else ""
    assert "Traceback" not in stderr, stderr

    # What waits in memory stayed near the cap (the rest went to the spool, or was lost).
    assert while_held, stderr
    assert while_held["waiting_bytes"] <= 20_000, while_held
    report = run_perfdoctor("report", "--traces", str(traces), "--format", "json", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    stored = requests_of(json.loads(report.stdout), "GET /busy")
    assert requests_of(json.loads(report.stdout), "GET /after") == 1
    lost = store.unstored(traces).lost
    if spool_blocked:
        assert while_held["spool_files"] == 0
        assert 0 < lost < count and stored == count - lost
        assert f"perfdoctor: {lost} captured trace(s) could not be stored" in report.stderr
        assert "nor set them aside" in stderr, stderr
    else:
        assert while_held["spool_files"] > 0, stderr
        assert stored == count and lost == 0
        assert report.stderr == ""

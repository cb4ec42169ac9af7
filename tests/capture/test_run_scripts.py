"""``perfdoctor run -- python script.py``: scripts, named traces, child processes, SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfdoctor.model import Trace
from tests.capture.apps_support import (
    SCRIPTS,
    app_env,
    assert_n_plus_one,
    endpoint,
    finding_at,
    load,
    sqlalchemy_postgres,
)
from tests.conftest import perfdoctor_cmd, report_json, run_perfdoctor

SECRETS = (b"literal-s3cret", b"param-s3cret")


def _run_script(traces: Path, script: str, *args: str, cwd: Path) -> None:
    result = run_perfdoctor(
        "run", "--traces", str(traces), "--", sys.executable, str(SCRIPTS / script), *args,
        cwd=cwd, env=app_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "perfdoctor:" not in result.stderr, result.stderr


def _named(traces: Path, name: str) -> list[Trace]:
    return [t for t in load(traces) if t.name == name]


def _store_bytes(traces: Path) -> bytes:
    return b"".join(
        p.read_bytes() for p in traces.parent.iterdir() if p.name.startswith(traces.name)
    )


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sqlalchemy_script(tmp_path: Path, request: pytest.FixtureRequest, database: str) -> None:
    if database == "postgres":
        url = sqlalchemy_postgres(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite:///{tmp_path / 'books.db'}"
    traces = tmp_path / "traces.db"
    _run_script(traces, "sa_script.py", url, cwd=tmp_path)

    [trace] = _named(traces, "sa_script.py")
    assert trace.kind == "script"
    report = report_json(traces, cwd=tmp_path)
    finding = finding_at(report, "n-plus-one-query", "sa_script.py")
    assert_n_plus_one(
        finding, source=SCRIPTS / "sa_script.py", marker="sa_script", count=10, cwd=tmp_path,
        framework="sqlalchemy", function="main",
    )
    assert finding["evidence"]["system"] == ("postgresql" if database == "postgres" else "sqlite")
    assert "publishers" in finding["evidence"]["statement"]


def test_sqlite_script_and_a_named_trace(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    _run_script(traces, "sqlite_script.py", str(tmp_path / "blog.db"), cwd=tmp_path)
    source = SCRIPTS / "sqlite_script.py"

    [script] = _named(traces, "sqlite_script.py")
    [nightly] = _named(traces, "nightly")
    assert nightly.kind == "job"
    # The named block's queries are its own, not the script's.
    assert {s.location.function for s in nightly.db_spans() if s.location} == {"nightly_counts"}
    assert "nightly_counts" not in {s.location.function for s in script.db_spans() if s.location}

    report = report_json(traces, cwd=tmp_path)
    assert_n_plus_one(
        finding_at(report, "n-plus-one-query", "sqlite_script.py"), source=source,
        marker="author_names", count=16, cwd=tmp_path, framework=None, function="author_names",
    )
    assert_n_plus_one(
        finding_at(report, "n-plus-one-query", "nightly"), source=source,
        marker="nightly_counts", count=8, cwd=tmp_path, framework=None,
        function="nightly_counts",
    )
    assert endpoint(report, "nightly")["requests"] == 1

    # Literals in the SQL and parameter values never reach the store.
    statements = [s.statement or "" for s in script.db_spans()]
    assert any(s.startswith("SELECT count(*) FROM author WHERE name = ") for s in statements)
    stored = _store_bytes(traces)
    for secret in SECRETS:
        assert secret not in stored

    failing = run_perfdoctor("report", "--traces", str(traces), "--fail-on", "error", cwd=tmp_path)
    assert failing.returncode == 1, failing.stderr


@pytest.mark.postgres
def test_psycopg_script(tmp_path: Path, postgres_url: str) -> None:
    traces = tmp_path / "traces.db"
    _run_script(traces, "pg_script.py", postgres_url, cwd=tmp_path)
    report = report_json(traces, cwd=tmp_path)
    finding = finding_at(report, "n-plus-one-query", "pg_script.py")
    assert_n_plus_one(
        finding, source=SCRIPTS / "pg_script.py", marker="pg_script", count=9, cwd=tmp_path,
        framework=None, function="main",
    )
    assert finding["evidence"]["system"] == "postgresql"
    assert "%s" not in finding["evidence"]["statement"]
    stored = _store_bytes(traces)
    for secret in SECRETS:
        assert secret not in stored


@pytest.mark.mysql
def test_pymysql_script(tmp_path: Path, mysql_database: dict[str, Any]) -> None:
    traces = tmp_path / "traces.db"
    db = mysql_database
    args = (db["host"], str(db["port"]), db["user"], db["database"])
    _run_script(traces, "mysql_script.py", *args, cwd=tmp_path)
    report = report_json(traces, cwd=tmp_path)
    finding = finding_at(report, "n-plus-one-query", "mysql_script.py")
    assert_n_plus_one(
        finding, source=SCRIPTS / "mysql_script.py", marker="mysql_script", count=7, cwd=tmp_path,
        framework=None, function="main",
    )
    assert finding["evidence"]["system"] == "mysql"
    stored = _store_bytes(traces)
    for secret in SECRETS:
        assert secret not in stored


def test_child_python_process_is_captured(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    _run_script(traces, "parent.py", str(tmp_path / "runs.db"), cwd=tmp_path)

    [parent] = _named(traces, "parent.py")
    [child] = _named(traces, "child.py")
    assert parent.pid != child.pid
    assert len(parent.db_spans()) == 2
    assert {s.location.path for s in child.db_spans() if s.location} == {
        str((SCRIPTS / "child.py").resolve())
    }
    report = report_json(traces, cwd=tmp_path)
    assert_n_plus_one(
        finding_at(report, "n-plus-one-query", "child.py"), source=SCRIPTS / "child.py",
        marker="child", count=6, cwd=tmp_path, framework=None, function="main",
    )


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_process_stopped_by_a_signal_to_run_keeps_its_trace(tmp_path: Path, stop: int) -> None:
    traces = tmp_path / "traces.db"
    command = perfdoctor_cmd(
        "run", "--traces", str(traces), "--", sys.executable, str(SCRIPTS / "wait_for_term.py"),
        str(tmp_path / "jobs.db"),
    )
    process = subprocess.Popen(
        command, cwd=tmp_path, env=app_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
        # Started as a script's `perfdoctor run ... &` is: bash starts a background
        # job with SIGINT ignored, which its own children would inherit.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        # As a supervisor or a script would (kill -TERM / kill -INT of perfdoctor
        # run alone, not the terminal's whole group): `perfdoctor run` passes it on.
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + stop, stderr
    if stop == signal.SIGTERM:
        assert "Traceback" not in stderr, stderr
    else:  # the script's own KeyboardInterrupt, as at a terminal
        assert "KeyboardInterrupt" in stderr, stderr
    report = report_json(traces, cwd=tmp_path)
    assert_n_plus_one(
        finding_at(report, "n-plus-one-query", "wait_for_term.py"),
        source=SCRIPTS / "wait_for_term.py", marker="wait_for_term", count=7, cwd=tmp_path,
        framework=None, function="main",
    )

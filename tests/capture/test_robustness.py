"""The app keeps answering when traces cannot be written; bad CLI input gets one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from perfdoctor import store
from tests.capture.apps_support import (
    FLASK_APP,
    SCRIPTS,
    app_env,
    console_script,
    get_many,
    gunicorn,
    seed,
    warning_lines,
)
from tests.conftest import free_port, run_perfdoctor, serve_under_perfdoctor


def _unwritable(tmp_path: Path) -> Path:
    """A store path that `perfdoctor run` can check, but that breaks_store() breaks."""
    return tmp_path / "not-a-directory" / "traces.db"


def breaks_store(traces: Path, command: list[str]) -> list[str]:
    """COMMAND, started once the store's folder has become a regular file: not
    writable, even for root (run refuses such a store up front, so it breaks after)."""
    return [sys.executable, str(SCRIPTS / "break_store.py"), str(traces.parent), *command]


def _blog_env(tmp_path: Path) -> dict[str, str]:
    env = app_env(BLOG_DATABASE_URL=f"sqlite:///{tmp_path / 'blog.db'}")
    seed(FLASK_APP, env)
    return env


def test_flask_run_with_an_unwritable_store_warns_once(tmp_path: Path) -> None:
    env = _blog_env(tmp_path)
    traces = _unwritable(tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = breaks_store(
        traces, [console_script("flask"), "--app", "app", "run", "--port", str(port)]
    )
    with serve_under_perfdoctor(command, traces, f"{base}/pid", cwd=FLASK_APP, env=env) as server:
        urls = [f"{base}/articles", f"{base}/articles/fixed", f"{base}/articles/2"] * 20
        answers = get_many(urls, workers=8)
    assert [status for status, _ in answers] == [200] * len(urls)
    output: str = server.captured_output  # type: ignore[attr-defined]
    assert len(warning_lines(output)) == 1, output
    assert str(traces) in warning_lines(output)[0]
    assert "Traceback" not in output, output
    assert not traces.parent.is_dir()


def test_gunicorn_workers_with_an_unwritable_store_warn_once_each(tmp_path: Path) -> None:
    env = _blog_env(tmp_path)
    traces = _unwritable(tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = breaks_store(traces, gunicorn(port, "-w", "2"))
    pids: set[int] = set()
    statuses: list[int] = []
    with serve_under_perfdoctor(command, traces, f"{base}/pid", cwd=FLASK_APP, env=env) as server:
        # Until both workers have answered (each then has traces it cannot write).
        for _ in range(20):
            answers = get_many([f"{base}/articles"] * 8 + [f"{base}/pid"] * 8, workers=16)
            statuses += [status for status, _ in answers]
            pids |= {json.loads(body)["pid"] for status, body in answers[8:] if status == 200}
            if len(pids) == 2:
                break
    assert set(statuses) == {200}
    assert len(pids) == 2, "both workers should have answered"
    output: str = server.captured_output  # type: ignore[attr-defined]
    # One warning per process that had traces to write (the two workers), never per request.
    assert len(warning_lines(output)) == 2, output
    assert "Traceback" not in output, output


def test_script_and_its_child_with_an_unwritable_store_warn_once_each(tmp_path: Path) -> None:
    traces = _unwritable(tmp_path)
    command = [sys.executable, str(SCRIPTS / "parent.py"), str(tmp_path / "runs.db")]
    result = run_perfdoctor(
        "run", "--traces", str(traces), "--", *breaks_store(traces, command),
        cwd=tmp_path, env=app_env(),
    )
    assert result.returncode == 0, result.stderr
    assert len(warning_lines(result.stderr)) == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def _one_line_error(result: object) -> str:
    stderr: str = result.stderr  # type: ignore[attr-defined]
    assert result.returncode != 0, stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("kind", ["missing", "empty", "not-sqlite", "directory"])
def test_report_on_a_bad_store_is_one_line_and_exit_2(tmp_path: Path, kind: str) -> None:
    traces = tmp_path / "traces.db"
    if kind == "empty":
        store.open_for_writing(traces).close()
    elif kind == "not-sqlite":
        traces.write_text("this is not a database\n" * 100)
    elif kind == "directory":
        traces.mkdir()
    for fmt in ("text", "json"):
        result = run_perfdoctor("report", "--traces", str(traces), "--format", fmt, cwd=tmp_path)
        line = _one_line_error(result)
        assert result.returncode == 2, result.stderr
        assert line.startswith("perfdoctor: "), line
        assert result.stdout == ""


def test_run_with_a_command_that_does_not_exist(tmp_path: Path) -> None:
    result = run_perfdoctor(
        "run", "--traces", str(tmp_path / "traces.db"), "--", "no-such-command-perfdoctor-test",
        cwd=tmp_path,
    )
    line = _one_line_error(result)
    assert "no-such-command-perfdoctor-test" in line, line


def test_run_passes_the_command_exit_code_through(tmp_path: Path) -> None:
    result = run_perfdoctor(
        "run", "--traces", str(tmp_path / "traces.db"), "--", sys.executable, "-c",
        "import sys; sys.exit(7)", cwd=tmp_path,
    )
    assert result.returncode == 7, result.stderr
    assert result.stderr == ""

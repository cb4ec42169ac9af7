"""A size cap on the trace store: the oldest traces go, the newest stay, report says so."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from perfdoctor import store
from tests.capture.apps_support import app_env
from tests.conftest import run_perfdoctor

APP = Path(__file__).parent / "retention_app.py"
MB = 1024 * 1024
CAP_MB = 0.5
JOBS = 600  # about 1.2 MB of traces: over twice the cap
# The file may pass its cap by at most one page before the pass that trims it ends.
PAGE = store.PAGE_SIZE


def _run_jobs(tmp_path: Path, *options: str, jobs: int = JOBS) -> subprocess.CompletedProcess[str]:
    traces = tmp_path / "traces.db"
    result = run_perfdoctor(
        "run", "--traces", str(traces), *options, "--",
        sys.executable, str(APP), "jobs", str(jobs),
        cwd=tmp_path, env=app_env(),
    )
    assert result.returncode == 0, result.stderr
    assert "perfdoctor:" not in result.stderr, result.stderr
    return result


def _job_numbers(traces: Path) -> list[int]:
    return sorted(int(t.name.split()[1]) for t in store.iter_traces(traces) if t.name.startswith("job "))


def _report_stderr(tmp_path: Path) -> str:
    result = run_perfdoctor("report", "--traces", str(tmp_path / "traces.db"), cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    return result.stderr


def test_a_capped_store_keeps_the_newest_traces_under_its_cap(tmp_path: Path) -> None:
    _run_jobs(tmp_path, "--max-store-mb", str(CAP_MB))
    traces = tmp_path / "traces.db"
    assert traces.stat().st_size <= CAP_MB * MB + PAGE

    kept = _job_numbers(traces)
    # The newest traces, without a gap, down to where retention stopped.
    assert kept[-1] == JOBS - 1
    assert kept == list(range(kept[0], JOBS))
    assert 20 < len(kept) < JOBS / 2
    # Every kept trace is whole: its statement and call site were not swept away.
    job = next(t for t in store.iter_traces(traces) if t.name == f"job {JOBS - 1:05d}")
    assert len(job.spans) == 60
    assert all(s.statement == "SELECT v FROM t WHERE id = ?" and s.location for s in job.spans)

    stderr = _report_stderr(tmp_path)
    assert f"{kept[0]:,} older traces were dropped" in stderr
    assert "under 0.5 MB" in stderr
    assert "the oldest trace kept started" in stderr


def test_a_store_under_its_cap_keeps_everything(tmp_path: Path) -> None:
    _run_jobs(tmp_path, "--max-store-mb", str(CAP_MB), jobs=100)
    assert _job_numbers(tmp_path / "traces.db") == list(range(100))
    assert "dropped" not in _report_stderr(tmp_path)


def test_the_cap_can_be_a_setting_and_zero_is_none(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.perfdoctor]\nmax_store_mb = {CAP_MB}\n")
    _run_jobs(tmp_path)
    traces = tmp_path / "traces.db"
    assert traces.stat().st_size <= CAP_MB * MB + PAGE
    assert len(_job_numbers(traces)) < JOBS

    # The option wins over the setting; 0 is no cap at all.
    store.clear(traces)
    _run_jobs(tmp_path, "--max-store-mb", "0")
    assert traces.stat().st_size > CAP_MB * MB + PAGE
    assert _job_numbers(traces) == list(range(JOBS))


def test_unreferenced_statements_and_stacks_are_swept(tmp_path: Path) -> None:
    # Each trace queries from a line and with a statement of its own.
    traces = tmp_path / "traces.db"
    subprocess.run(
        [sys.executable, str(APP), "sites", str(traces), str(CAP_MB), "2000"],
        check=True, env=app_env(), cwd=tmp_path, timeout=120,
    )
    loaded = store.load_traces(traces)
    assert 50 < len(loaded) < 1000
    assert all(s.location for t in loaded for s in t.spans)
    assert all(s.statement for t in loaded for s in t.db_spans())
    with closing(sqlite3.connect(traces)) as db:
        statements = db.execute("SELECT count(*) FROM statements").fetchone()[0]
        stacks = db.execute("SELECT count(*) FROM stacks").fetchone()[0]
    # Not the 2000 written: those of the kept traces, and at most as many dropped
    # since the last sweep.
    assert len(loaded) <= statements <= 2 * len(loaded)
    assert len(loaded) <= stacks <= 2 * len(loaded)


def test_a_writer_rewrites_what_another_process_swept(tmp_path: Path) -> None:
    # One process writes a trace, then idles while another fills the store: the
    # first trace is dropped and its statement swept.  The first process still
    # counts that statement as written; its next trace must not lose it.
    traces, go = tmp_path / "traces.db", tmp_path / "go"
    env = app_env()
    early = subprocess.Popen(
        [sys.executable, str(APP), "early-late", str(traces), str(CAP_MB), str(go)],
        env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _has_trace(traces, "early"):
            assert time.monotonic() < deadline and early.poll() is None
            time.sleep(0.05)
        subprocess.run(
            [sys.executable, str(APP), "sites", str(traces), str(CAP_MB), "2000"],
            check=True, env=env, cwd=tmp_path, timeout=120,
        )
        with closing(sqlite3.connect(traces)) as db:
            assert not db.execute("SELECT 1 FROM traces WHERE name = 'early'").fetchone()
            assert not db.execute(
                "SELECT 1 FROM statements WHERE statement LIKE '%v99999%'"
            ).fetchone()
        go.touch()
        assert early.wait(60) == 0, early.stderr.read() if early.stderr else ""
    finally:
        early.kill()
    [late] = [t for t in store.load_traces(traces) if t.name == "late"]
    assert [s.statement for s in late.spans] == ["SELECT v AS v99999 FROM t WHERE id = ?"]


def _has_trace(traces: Path, name: str) -> bool:
    try:
        return any(t.name == name for t in store.iter_traces(traces))
    except Exception:  # not created yet
        return False

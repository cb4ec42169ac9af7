"""A valid store that cannot be written to (a read-only mount) is read normally,
its WAL included when SQLite can read it; and reading never changes a store."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.reliability.damaged_stores import (
    capture_store,
    copy_store,
    expected_requests,
    report,
    trace_ids,
)

# Writes BATCH traces, moves them into the main file, writes BATCH more into the
# WAL and dies there: the WAL (and its -shm index) keep traces the file lacks.
KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from perfdoctor import store
from perfdoctor.model import Span, Trace

def batch(first):
    return [
        Trace(f"t{i}", "GET /killed", "http", 1000.0 + i, 5.0,
              spans=[Span("db", 0.5, 1.0, system="sqlite", fingerprint="f", statement="SELECT 1")])
        for i in range(first, first + BATCH)
    ]

BATCH = 5
conn = store.open_for_writing(Path(sys.argv[1]))
store.write_traces(conn, batch(0))
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
store.write_traces(conn, batch(BATCH))
os.kill(os.getpid(), signal.SIGKILL)
"""
BATCH = 5


def _cannot(what: str, detail: str) -> None:
    message = f"cannot {what} ({detail.strip()}): read-only mounts need root"
    if os.environ.get("CI"):
        pytest.fail(f"CI: {message}", pytrace=False)
    pytest.skip(message)


@contextmanager
def _tmpfs(folder: Path) -> Iterator[Path]:
    folder.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError as exc:
        _cannot("mount a tmpfs", str(exc))
    if mounted.returncode != 0:
        _cannot("mount a tmpfs", mounted.stderr)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True, timeout=30)


def _read_only(folder: Path) -> None:
    result = subprocess.run(
        ["mount", "-o", "remount,ro", str(folder)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    with pytest.raises(OSError):
        (folder / "probe").write_text("")


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Path]:
    with _tmpfs(tmp_path / "mount") as folder:
        yield folder


def _killed_writer(traces: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(traces)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == -9, result.stderr
    assert Path(f"{traces}-wal").stat().st_size > 0


def _digests(folder: Path) -> dict[str, str]:
    """The store's files: the main file and its WAL (not the -shm, SQLite's
    shared-memory index, which every reader of a WAL may rebuild)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if not p.name.endswith("-shm")
    }


def test_a_store_on_a_read_only_mount_is_read_normally(
    mount: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    captured = capture_store(tmp_path_factory.mktemp("captured") / "traces.db")
    traces = copy_store(captured, mount)
    _read_only(mount)
    run = report(traces, "--format", "json")
    assert run.code == 0, run.stderr
    assert run.stderr == ""
    assert run.requests() == expected_requests(trace_ids(captured), set())
    assert not any(run.json()["damaged"].values())


def test_a_killed_writers_wal_is_read_on_a_read_only_mount(mount: Path) -> None:
    traces = mount / "traces.db"
    _killed_writer(traces)
    assert Path(f"{traces}-shm").exists()
    _read_only(mount)
    before = _digests(mount)
    run = report(traces, "--format", "json")
    assert run.code == 0, run.stderr
    assert run.stderr == ""
    assert run.requests() == {"GET /killed": 2 * BATCH}
    assert _digests(mount) == before


def test_a_wal_sqlite_cannot_read_is_said_in_one_line(mount: Path, tmp_path: Path) -> None:
    # Without its -shm index, SQLite cannot read a WAL on a read-only mount.
    _killed_writer(tmp_path / "traces.db")
    for name in ("traces.db", "traces.db-wal"):
        shutil.copyfile(tmp_path / name, mount / name)
    traces = mount / "traces.db"
    _read_only(mount)
    run = report(traces)
    assert run.code == 0, run.stderr
    assert f"perfdoctor — {BATCH} traces" in run.stdout
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr
    assert lines[0].startswith(f"perfdoctor: warning: {traces}-wal may hold traces not yet moved")
    assert "left out" in lines[0]


def test_reading_a_store_a_writer_left_unfinished_changes_nothing(tmp_path: Path) -> None:
    # A reader that could write would move the WAL into the file and delete it.
    traces = tmp_path / "store" / "traces.db"
    traces.parent.mkdir()
    _killed_writer(traces)
    before = _digests(traces.parent)
    assert set(before) == {"traces.db", "traces.db-wal"}
    run = report(traces, "--format", "json")
    assert run.code == 0, run.stderr
    assert run.requests() == {"GET /killed": 2 * BATCH}
    assert _digests(traces.parent) == before

"""A full disk: the app goes on, and the one warning names the real error.

SQLite rolls a transaction back by itself when the disk fills; a second
ROLLBACK then failed with "cannot rollback - no transaction is active", and
that was all the user saw.  A small tmpfs of our own is a real full disk.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfdoctor import store
from tests.capture.apps_support import app_env, warning_lines
from tests.conftest import run_perfdoctor
from tests.reliability.support import HERE, names_in


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB file system (needs root, as CI has); skips without, but fails under CI."""
    mount = tmp_path / f"small-{uuid.uuid4().hex[:8]}"
    mount.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
            capture_output=True, text=True, timeout=30,
        )
        why = done.stderr.strip() if done.returncode else ""
    except OSError as exc:
        why = str(exc)
    if why:
        message = f"cannot mount a small tmpfs ({why})"
        if os.environ.get("CI"):
            pytest.fail(f"CI: {message}", pytrace=False)
        pytest.skip(message)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30)


def _fill(traces: Path, count: int) -> subprocess.CompletedProcess[str]:
    return run_perfdoctor(
        "run", "--traces", str(traces), "--", sys.executable, str(HERE / "fill_store.py"),
        str(count), cwd=traces.parent, env=app_env(),
    )


def test_a_full_disk_is_named_and_the_app_goes_on(small_disk: Path) -> None:
    traces = small_disk / "traces.db"
    result = _fill(traces, 3000)  # some 2 MB of statements for a 1 MB disk
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done 3000\n"
    assert "Traceback" not in result.stderr, result.stderr
    warnings = warning_lines(result.stderr)
    assert len(warnings) == 1, result.stderr
    assert "database or disk is full" in warnings[0], warnings[0]
    assert "cannot rollback" not in result.stderr
    # What was written before the disk filled is there, and readable.
    assert 0 < store.count_traces(traces) < 3000


def test_a_disk_with_room_takes_every_trace(small_disk: Path) -> None:
    traces = small_disk / "traces.db"
    result = _fill(traces, 300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert names_in(traces).count("GET /fill") == 300

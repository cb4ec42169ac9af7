"""Every finished trace is written while other requests are still in progress:
on a server that is never idle, on a busy one (the recorder waits longer
between cycles), at a flush, and at exit."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

import perfdoctor
from perfdoctor.capture import recorder
from tests.inprocess import blog_db, capturing, load

# Only how long a test gives up after; nothing asserts on it.
GIVE_UP_S = 60.0


def stored(traces: Path) -> list[str]:
    """The trace names the store holds now, read as any SQLite client would."""
    if not traces.exists():
        return []
    with closing(sqlite3.connect(traces)) as conn:
        try:
            return sorted(row[0] for row in conn.execute("SELECT name FROM traces"))
        except sqlite3.OperationalError:  # the writer has not made the schema yet
            return []


def wait_until(condition: Callable[[], bool]) -> None:
    give_up = time.monotonic() + GIVE_UP_S
    while not condition():
        assert time.monotonic() < give_up, "not written"
        time.sleep(0.02)


@contextmanager
def request_in_progress(name: str = "long request") -> Iterator[None]:
    """A request another thread is serving for the duration of the block."""
    opened, release = threading.Event(), threading.Event()

    def serve() -> None:
        with perfdoctor.trace(name, kind="http"):
            opened.set()
            release.wait(GIVE_UP_S)

    thread = threading.Thread(target=serve)
    thread.start()
    opened.wait(GIVE_UP_S)
    try:
        yield
    finally:
        release.set()
        thread.join()


def short_requests(conn: sqlite3.Connection, count: int, queries: int = 2) -> None:
    for n in range(count):
        with perfdoctor.trace(f"short {n:03}", kind="http"):
            for i in range(queries):
                conn.execute("SELECT name FROM author WHERE id = ?", (i % 10 + 1,)).fetchone()


def test_a_server_never_idle_still_has_every_request_written(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with request_in_progress():
            short_requests(conn, 50)
            # Written while the long request is still in progress.
            wait_until(lambda: len(stored(traces)) == 50)
    assert stored(traces) == ["long request"] + [f"short {n:03}" for n in range(50)]


def test_traces_of_many_spans_are_written_whole_while_a_request_is_in_progress(
    tmp_path: Path,
) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with request_in_progress():
            short_requests(conn, 10, queries=20)
            wait_until(lambda: len(stored(traces)) == 10)
    [long, *short] = load_spans(traces)
    assert long == ("long request", 0)
    assert short == [(f"short {n:03}", 20) for n in range(10)]


def load_spans(traces: Path) -> list[tuple[str, int]]:
    return sorted((t.name, len(t.spans)) for t in load(traces))


def test_a_flush_writes_everything_while_a_request_is_in_progress(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with request_in_progress():
            short_requests(conn, 5, queries=100)
            perfdoctor.flush()
            assert stored(traces) == [f"short {n:03}" for n in range(5)]


def test_a_process_exiting_during_a_request_writes_the_finished_ones(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    script = textwrap.dedent(
        """
        import sqlite3, sys, threading
        import perfdoctor

        perfdoctor.instrument(sys.argv[1])
        conn = sqlite3.connect(":memory:")
        never = threading.Event()

        def hang():
            with perfdoctor.trace("never ends", kind="http"):
                never.wait()

        threading.Thread(target=hang, daemon=True).start()
        for n in range(200):
            with perfdoctor.trace(f"short {n:03}", kind="http"):
                for i in range(20):
                    conn.execute("SELECT ?", (i,)).fetchone()
        """
    )
    # Nothing from the caller's shell may switch capture on elsewhere.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFDOCTOR_")}
    result = subprocess.run(
        [sys.executable, "-c", script, str(traces)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert stored(traces) == [f"short {n:03}" for n in range(200)]


def test_a_busy_app_waits_longer_between_writes_and_still_has_every_request_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every cycle counts as busy: the thread waits the long interval each time.
    monkeypatch.setattr(recorder, "BUSY_SPANS", 1)
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with request_in_progress():
            for burst in range(1, 4):
                short_requests(conn, 20, queries=5)
                # Written in the cycle after the long wait that follows a busy one.
                wait_until(lambda burst=burst: len(stored(traces)) == 20 * burst)
    assert len(stored(traces)) == 61


def sampling_counts(traces: Path) -> list[tuple[str, int, int]]:
    with closing(sqlite3.connect(traces)) as conn:
        try:
            return list(conn.execute("SELECT name, seen, kept FROM sampling ORDER BY name"))
        except sqlite3.OperationalError:
            return []


def test_an_idle_app_s_recorder_sleeps_until_the_next_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker with no traffic woke ten times a second, each time taking the GIL
    # from the app's threads for nothing.
    from perfdoctor.capture import auto

    monkeypatch.setenv("PERFDOCTOR_SAMPLE_SEED", "1")
    traces = tmp_path / "t.db"
    with capturing(traces, sample=0.5):
        conn = blog_db()
        short_requests(conn, 1)
        perfdoctor.flush()
        writer = auto._recorder
        assert writer is not None
        wait_until(lambda: writer._idle)
        cycles = writer.cycles
        time.sleep(0.5)  # five cycles' worth, idle
        assert writer.cycles == cycles
        # Woken by the next request, kept or left out by the draw: written with
        # no flush.  (The seeded draws keep some of these ten and leave out others.)
        short_requests(conn, 10)
        wait_until(lambda: sum(seen for _, seen, _ in sampling_counts(traces)) == 11)
    kept = sum(kept for _, _, kept in sampling_counts(traces))
    assert 0 < len(stored(traces)) == kept < 11

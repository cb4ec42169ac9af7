"""The sliding window reads what was written since its last pass, not the whole store."""

from __future__ import annotations

from pathlib import Path

from perfdoctor import store
from perfdoctor.model import Trace
from perfdoctor.watch.window import SlidingWindow
from tests.watch.support import capture


def names(traces: list[Trace]) -> list[str]:
    return [t.name for t in traces]


def test_each_pass_adds_only_the_new_traces(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    capture(traces, "/items")
    window = SlidingWindow(traces, 60)
    assert names(window.advance()) == ["GET /items"]
    assert window.advance() == []  # nothing written since: nothing read

    capture(traces, "/orders")
    assert names(window.advance()) == ["GET /orders"]
    assert names(window.traces) == ["GET /items", "GET /orders"]


def test_traces_that_started_before_the_window_leave_it(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    capture(traces, "/items")
    capture(traces, "/orders")
    started = sorted(t.started_at for t in store.load_traces(traces))
    now = [started[1] + 60 - (started[1] - started[0]) / 2]
    window = SlidingWindow(traces, 60, clock=lambda: now[0])
    assert names(window.advance()) == ["GET /orders"]
    now[0] += 3600
    window.advance()
    assert window.traces == []


def test_a_cleared_store_starts_the_window_again(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    capture(traces, "/items", "/items")
    window = SlidingWindow(traces, 60)
    window.advance()
    # A new store in its place (`perfdoctor run --clear`), with fewer rows than before.
    fresh = tmp_path / "fresh.db"
    capture(fresh, "/orders")
    store.clear(traces)
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{fresh}{suffix}").exists():
            Path(f"{fresh}{suffix}").rename(f"{traces}{suffix}")
    assert names(window.advance()) == ["GET /orders"]
    assert names(window.traces) == ["GET /orders"]

"""blocking-in-async in a synchronous request: a coroutine handed to the app's shared
event loop (run in another thread) that makes a blocking sqlite3 call there."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.model import Finding
from perfdoctor.settings import Settings
from tests.inprocess import capturing, load

PAUSE_MS = 60  # two of them hold the loop past the 100 ms threshold


@pytest.fixture
def shared_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def _db() -> sqlite3.Connection:
    # Used from the loop's thread and from worker threads, one call at a time.
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.create_function("pause", 1, lambda ms: time.sleep(ms / 1000.0) or ms)
    return conn


async def _blocking(conn: sqlite3.Connection) -> None:
    for _ in range(2):
        conn.execute("SELECT pause(?)", (PAUSE_MS,)).fetchall()  # blocks: the loop's thread


async def _in_threads(conn: sqlite3.Connection) -> None:
    for _ in range(2):
        await asyncio.to_thread(lambda: conn.execute("SELECT pause(?)", (PAUSE_MS,)).fetchall())


def _run(
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    work: Any,
) -> list[Finding]:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = _db()
        with perfdoctor.trace("GET /report", "http"):
            coroutine: Coroutine[Any, Any, None] = work(conn)
            asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=10)
    return [f for f in analyze(load(traces), Settings()).findings if f.id == "blocking-in-async"]


def _line(text: str) -> int:
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if text in line)


def test_a_sync_request_blocking_the_shared_loop_is_found(
    tmp_path: Path, shared_loop: asyncio.AbstractEventLoop
) -> None:
    [finding] = _run(tmp_path, shared_loop, _blocking)
    assert finding.endpoint == "GET /report"
    assert finding.location is not None
    assert finding.location.line == _line("# blocks: the loop's thread")
    assert finding.evidence["calls"] == 2
    assert finding.evidence["kinds"] == ["db"]
    assert finding.evidence["blocked_ms"] >= 2 * PAUSE_MS
    assert "asyncio.to_thread" in finding.fix
    assert "shared event loop" in finding.fix


def test_calls_moved_off_the_loop_are_not_found(
    tmp_path: Path, shared_loop: asyncio.AbstractEventLoop
) -> None:
    assert _run(tmp_path, shared_loop, _in_threads) == []


def test_flask_per_view_loop_is_ignored(tmp_path: Path) -> None:
    # Flask runs an async view on a loop of its own (asgiref): no other request waits.
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = _db()
        with perfdoctor.trace("GET /view", "http"):
            asyncio.run(_blocking(conn))
    [trace] = load(traces)
    assert [s.attrs.get("blocks_event_loop") for s in trace.spans if s.kind == "db"] == [True] * 2
    flask = dataclasses.replace(trace, attrs={**trace.attrs, "framework": "flask", "async": True})
    assert not [f for f in analyze([flask], Settings()).findings if f.id == "blocking-in-async"]

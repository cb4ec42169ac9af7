"""slow-query: a real SQLite query made slow by a SQL function that waits."""

import sqlite3
import time
from pathlib import Path

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.settings import Settings
from tests.inprocess import capturing, load


def _db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.create_function("pause", 1, lambda ms: time.sleep(ms / 1000.0) or ms)
    return conn


def _slow(traces: Path, settings: Settings | None = None):
    return [f for f in analyze(load(traces), settings or Settings()).findings if f.id == "slow-query"]


def test_a_query_over_the_budget_is_found(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = _db()
        for _ in range(3):
            with perfdoctor.trace("GET /report", "http"):
                conn.execute("SELECT pause(120)").fetchall()
                conn.execute("SELECT 1").fetchall()
    [finding] = _slow(traces)
    assert finding.endpoint == "GET /report"
    assert finding.evidence["runs"] == 3
    assert finding.evidence["p95_ms"] >= 120
    assert finding.evidence["statement"] == "SELECT pause(?)"
    assert finding.location is not None and finding.location.path.endswith("test_slow_query.py")


def test_fast_queries_are_clean_and_the_budget_is_a_setting(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = _db()
        with perfdoctor.trace("GET /report", "http"):
            conn.execute("SELECT pause(30)").fetchall()
    assert _slow(traces) == []
    assert len(_slow(traces, Settings(slow_query_p95_ms=20))) == 1

"""The head draw and the tail rule in one process, and the sampling table in the store."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfdoctor import store
from perfdoctor.analysis import sampling
from perfdoctor.analysis.stats import weighted_percentile
from perfdoctor.capture import context
from perfdoctor.capture import sampling as capture_sampling
from perfdoctor.model import Trace


@pytest.fixture(autouse=True)
def _no_other_taker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A recorder another test left running in this process takes the counts on its
    next write; these tests take them themselves."""
    from perfdoctor.capture import recorder

    monkeypatch.setattr(recorder, "take_sample_counts", lambda: [])


@pytest.fixture
def finished() -> Iterator[list[context.ActiveTrace]]:
    """Capture switched to a list, sampling a third of requests; restored after."""
    kept: list[context.ActiveTrace] = []
    saved = (
        context.state.on_finish,
        context.state.on_drop,
        context.state.sample_rate,
        context.state.tail,
        context.state.sample_summary,
    )
    context.state.on_finish = kept.append
    context.state.on_drop = None
    context.take_sample_counts()
    # Far over any request here, however busy the machine: only the draw decides.
    capture_sampling.configure(1 / 3, slow_ms=10_000.0, seed="1")
    try:
        yield kept
    finally:
        (
            context.state.on_finish,
            context.state.on_drop,
            context.state.sample_rate,
            context.state.tail,
            context.state.sample_summary,
        ) = saved
        context.take_sample_counts()


def _request(name: str, status: int = 200, sleep: float = 0.0) -> None:
    trace, token = context.start(name, "http")
    if sleep:
        time.sleep(sleep)
    trace.status = status
    context.finish(trace, token)


def test_head_draw_keeps_a_share_and_counts_every_request(
    finished: list[context.ActiveTrace],
) -> None:
    for _ in range(300):
        _request("GET /a")
    assert 70 <= len(finished) <= 130
    assert all(
        t.attrs["sample"]["rate"] == 1 / 3 and t.attrs["sample"]["kept"] == "head" for t in finished
    )
    # Each kept trace accounts for itself and the requests dropped just before it.
    assert sum(t.attrs["sample"]["seen"] for t in finished) == 300 - _dropped_after_last(finished)
    assert context.take_sample_counts() == [("GET /a", 300, len(finished))]
    # Taken: the next write starts from zero.
    assert context.take_sample_counts() == []


def _dropped_after_last(finished: list[context.ActiveTrace]) -> int:
    return context.state.tail.pending.get(finished[-1].name, 0)


def test_failed_and_slow_requests_are_always_kept(finished: list[context.ActiveTrace]) -> None:
    capture_sampling.configure(1 / 3, slow_ms=20.0, seed="1")
    for _ in range(30):
        _request("GET /fail", status=503)
    for _ in range(3):
        _request("GET /slow", sleep=0.025)
    assert [t.attrs["sample"]["kept"] for t in finished] == ["error"] * 30 + ["slow"] * 3
    assert sorted(context.take_sample_counts()) == [("GET /fail", 30, 30), ("GET /slow", 3, 3)]


def test_a_summary_tail_records_nothing_in_a_request_the_draw_left_out(
    finished: list[context.ActiveTrace],
) -> None:
    capture_sampling.configure(1 / 3, slow_ms=10_000.0, seed="1", tail="summary")
    opened = []
    for _ in range(30):
        trace, token = context.start("GET /orders", "http")
        opened.append(trace)
        # What every integration asks, and what the drivers call with the trace itself.
        assert (context.current() is trace) is trace.sampled
        now = context.perf_counter()
        context.record_db(trace, "sqlite", "SELECT 1", (), now, now, None)
        context.record_span(trace, "cache", now, now, {"op": "get"})
        trace.status = 500
        context.finish(trace, token)
    drawn = [t for t in opened if t.sampled]
    assert 0 < len(drawn) < 30
    # All kept (they failed): the drawn ones with their two spans, the others summaries.
    assert finished == opened
    for trace in finished:
        assert len(trace.spans) == (2 if trace.sampled else 0)
        assert trace.attrs["sample"].get("summary", False) is not trace.sampled
        assert (trace.anchor is None) and trace.status == 500


def test_an_endpoint_budget_lowers_its_own_slow_threshold(
    finished: list[context.ActiveTrace],
) -> None:
    # The draw keeps nothing; the global threshold is far away.
    capture_sampling.configure(1e-9, slow_ms=10_000.0, slow_by_endpoint={"GET /budgeted": 20.0})
    for _ in range(3):
        _request("GET /budgeted", sleep=0.025)
        _request("GET /other", sleep=0.025)
    assert [(t.name, t.attrs["sample"]["kept"]) for t in finished] == [
        ("GET /budgeted", "slow")
    ] * 3
    assert sorted(context.take_sample_counts()) == [("GET /budgeted", 3, 3), ("GET /other", 3, 0)]


def test_an_endpoint_budget_over_the_global_threshold_does_not_raise_it(
    finished: list[context.ActiveTrace],
) -> None:
    capture_sampling.configure(1e-9, slow_ms=20.0, slow_by_endpoint={"GET /export": 60_000.0})
    _request("GET /export", sleep=0.025)
    assert [t.attrs["sample"]["kept"] for t in finished] == ["slow"]


def test_a_4xx_is_not_a_failure(finished: list[context.ActiveTrace]) -> None:
    for _ in range(60):
        _request("GET /missing", status=404)
    assert len(finished) < 60
    assert {t.attrs["sample"]["kept"] for t in finished} == {"head"}


def test_jobs_and_scripts_are_not_sampled(finished: list[context.ActiveTrace]) -> None:
    for _ in range(20):
        trace, token = context.start("task", "job")
        context.finish(trace, token)
    assert len(finished) == 20
    assert all("sample" not in t.attrs for t in finished)
    assert context.take_sample_counts() == []


def test_rate_one_keeps_everything_untouched() -> None:
    kept: list[context.ActiveTrace] = []
    saved = context.state.on_finish
    context.state.on_finish = kept.append
    capture_sampling.configure(1.0, slow_ms=20.0)
    try:
        for _ in range(20):
            _request("GET /a")
    finally:
        context.state.on_finish = saved
    assert len(kept) == 20
    assert all("sample" not in t.attrs for t in kept)
    assert context.take_sample_counts() == []


@pytest.mark.parametrize("value", [0, 2, "abc", "", None, float("nan"), -1])
def test_parse_rate_refuses(value: object) -> None:
    with pytest.raises(ValueError, match="at most 1"):
        capture_sampling.parse_rate(value)


@pytest.mark.parametrize(("value", "rate"), [("0.05", 0.05), (1, 1.0), ("1", 1.0)])
def test_parse_rate_accepts(value: object, rate: float) -> None:
    assert capture_sampling.parse_rate(value) == rate


def _trace(name: str, ms: float, sample: dict[str, object] | None = None) -> Trace:
    return Trace(
        id=f"{name}-{ms}-{id(sample)}-{time.perf_counter_ns()}",
        name=name,
        kind="http",
        started_at=0.0,
        duration_ms=ms,
        status=200,
        attrs={"sample": sample} if sample else {},
    )


def test_weights_head_kept_traces_by_the_rate() -> None:
    head = _trace("a", 1.0, {"rate": 0.1, "kept": "head"})
    slow = _trace("a", 900.0, {"rate": 0.1, "kept": "slow"})
    assert sampling.weight(head) == pytest.approx(10.0)
    assert sampling.weight(slow) == 1.0
    assert sampling.weight(_trace("a", 1.0)) == 1.0
    # Ten fast kept (standing for 100) and five slow: the p50 is fast, the p99 slow.
    values = [1.0] * 10 + [900.0] * 5
    weights = [10.0] * 10 + [1.0] * 5
    assert weighted_percentile(values, weights, 50) == 1.0
    assert weighted_percentile(values, weights, 99) == 900.0
    assert weighted_percentile([], [], 50) == 0.0


def test_summarise_adds_unsampled_traces_of_earlier_runs() -> None:
    traces = [_trace("a", 1.0)] * 3 + [_trace("a", 1.0, {"rate": 0.1, "kept": "head"})]
    [found] = sampling.summarise(traces, {"a": (50, 1)}).values()
    assert (found.seen, found.kept, found.rate) == (53, 4, 0.1)
    assert sampling.summarise(traces, {}) == {}


def test_store_adds_counts_across_batches(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    conn = store.open_for_writing(path)
    store.write_batch(conn, store.Batch(sampling=[("GET /a", 10, 1)]))
    store.write_batch(conn, store.Batch(sampling=[("GET /a", 5, 2), ("GET /b", 1, 1)]))
    conn.close()
    assert store.sampling_counts(path) == {"GET /a": (15, 3), "GET /b": (1, 1)}


def test_a_store_from_before_the_table_reads_and_gains_it(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    conn = store.open_for_writing(path)
    store.write_traces(conn, [_trace("GET /a", 1.0)])
    conn.execute("DROP TABLE sampling")
    conn.close()
    assert store.sampling_counts(path) == {}
    assert [t.name for t in store.load_traces(path)] == ["GET /a"]
    conn = store.open_for_writing(path)  # a new writer adds the table
    store.write_batch(conn, store.Batch(sampling=[("GET /a", 4, 1)]))
    conn.close()
    assert store.sampling_counts(path) == {"GET /a": (4, 1)}


def test_counts_set_aside_in_the_spool_are_added_later(tmp_path: Path) -> None:
    from perfdoctor.store import spool

    path = tmp_path / "t.db"
    store.open_for_writing(path).close()
    spool.set_aside(path, store.SCHEMA_VERSION, 0, {"sampling": [("GET /a", 7, 1)]})
    store.merge_spool(path)
    assert store.sampling_counts(path) == {"GET /a": (7, 1)}
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM traces").fetchone()[0] == 0

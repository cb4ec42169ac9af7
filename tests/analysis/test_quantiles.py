"""Percentiles in bounded memory: exact up to a count, within 0.5% past it."""

from __future__ import annotations

import random

import pytest

from perfdoctor.analysis.analyze import analyze
from perfdoctor.analysis.stats import FloorMedian, Quantiles, percentile
from perfdoctor.model import Location, Span, Trace
from perfdoctor.settings import Settings
from tests.analysis.test_chunked import all_traces


def values(n: int) -> list[float]:
    rng = random.Random(16)
    return [rng.lognormvariate(3, 1.2) for _ in range(n)] + [0.0, 0.0]


def test_exact_up_to_the_limit() -> None:
    data = values(5_000)
    kept = Quantiles(exact=len(data))
    for value in data:
        kept.add(value)
    assert [kept.percentile(p) for p in (0, 50, 95, 99, 100)] == [
        percentile(data, p) for p in (0, 50, 95, 99, 100)
    ]
    assert kept.largest == max(data) and len(kept) == len(data)


@pytest.mark.parametrize("pct", [50, 90, 95, 99])
def test_within_half_a_percent_past_it(pct: float) -> None:
    data = values(50_000)
    kept = Quantiles(exact=1_000)
    for value in data:
        kept.add(value)
    assert kept.values == kept.values[:0]  # the exact values were let go
    assert len(kept.buckets or {}) < 2_000
    exact = percentile(data, pct)
    assert abs(kept.percentile(pct) - exact) <= 0.005 * exact
    assert kept.percentile(100) == max(data)
    assert kept.percentile(0) == 0.0


def test_slow_query_past_the_limit_counts_every_run_and_keeps_its_verdict() -> None:
    traces = all_traces()
    exact = analyze(traces, Settings())
    bounded = analyze(traces, Settings(exact_percentile_values=2))
    (before,) = [f for f in exact.findings if f.id == "slow-query"]
    (after,) = [f for f in bounded.findings if f.id == "slow-query"]
    assert after.evidence["runs"] == before.evidence["runs"] == 6
    assert after.evidence["max_ms"] == before.evidence["max_ms"]
    assert (
        abs(after.evidence["p95_ms"] - before.evidence["p95_ms"])
        <= 0.005 * before.evidence["p95_ms"]
    )
    assert after.severity == before.severity


def test_runs_added_a_shape_at_a_time_give_what_one_by_one_gives() -> None:
    """slow-query adds a shape's runs at once (``extend``): across the limit and past
    it, the counts, the largest value and every percentile are those of adding
    the values one by one."""
    data = values(30_000)
    one_by_one, batched = Quantiles(exact=1_000), Quantiles(exact=1_000)
    for value in data:
        one_by_one.add(value)
    rng = random.Random(5)
    at = 0
    while at < len(data):
        size = rng.choice([1, 7, 40, 900, 2_500])
        batched.extend(data[at : at + size])
        at += size
    assert [batched.percentile(p) for p in (0, 50, 95, 99, 100)] == [
        one_by_one.percentile(p) for p in (0, 50, 95, 99, 100)
    ]
    assert batched.buckets == one_by_one.buckets
    assert (len(batched), batched.largest) == (len(one_by_one), one_by_one.largest)


def test_repeated_durations_past_the_limit_give_what_one_by_one_gives() -> None:
    """Durations in whole microseconds repeat (the store keeps them so): past the
    limit they are counted a batch at a time, and a percentile asked at any point,
    between batches or in the middle of one, is that of adding them one by one."""
    rng = random.Random(7)
    data = [round(rng.lognormvariate(0, 0.5), 3) for _ in range(40_000)] + [0.0, -0.0]
    one_by_one, batched = Quantiles(exact=500), Quantiles(exact=500)
    at = 0
    while at < len(data):
        size = rng.choice([3, 20, 700, 5_000])
        part = data[at : at + size]
        for value in part:
            one_by_one.add(value)
        batched.extend(part)
        at += size
        if rng.random() < 0.2:
            assert batched.percentile(50) == one_by_one.percentile(50)
    assert [batched.percentile(p) for p in (0, 50, 95, 99, 100)] == [
        one_by_one.percentile(p) for p in (0, 50, 95, 99, 100)
    ]
    assert batched.buckets == one_by_one.buckets
    assert (len(batched), batched.largest) == (len(one_by_one), one_by_one.largest)


# --- the median against a floor (cache-candidate) ----------------------------


def test_a_floor_median_is_the_exact_median_whenever_it_reaches_the_floor() -> None:
    rng = random.Random(5)
    for _ in range(20_000):
        floor = rng.choice([10.0, 0.0, 2.5])
        near = [floor, floor - 1e-9, floor + 1e-9, 0.0]
        data = [
            rng.choice([rng.uniform(0, 20), round(rng.uniform(0, 20), 3), rng.choice(near)])
            for _ in range(rng.randint(0, 9))
        ]
        kept = FloorMedian(floor)
        for value in data:
            kept.add(value)
        exact = percentile(data, 50)
        median = kept.median()
        assert len(kept) == len(data)
        if median is None:
            assert exact < floor, data
        else:
            assert median == exact, data


def _reads(durations: list[float]) -> list[Trace]:
    """One request per duration, each running the same read with the same parameters."""
    traces = []
    for i, duration in enumerate(durations):
        read = Span(
            kind="db",
            start_ms=1.0,
            duration_ms=duration,
            system="sqlite",
            statement="SELECT * FROM report WHERE id = ?",
            fingerprint="f-report",
            params_digest="p-1",
            location=Location("/app/views.py", 12, "report"),
        )
        trace = Trace(
            id=f"t{i}",
            name="GET /report",
            kind="http",
            started_at=float(i),
            duration_ms=duration + 2.0,
            spans=[read],
        )
        traces.append(trace)
    return traces


@pytest.mark.parametrize(
    ("durations", "flagged"),
    [
        ([1.0, 9.5, 10.5, 40.0], True),  # the middle two straddle the floor: 10.0
        ([1.0, 2.0, 9.99, 10.0, 40.0, 50.0], False),  # ... and stay under it
        ([1.0, 2.0, 3.0, 4.0, 40.0, 50.0], False),  # both under it
        ([12.0, 1.0, 30.0, 11.0, 2.0], True),
        ([10.0] * 3 + [0.5] * 2, True),
    ],
)
def test_cache_candidate_keeps_the_fast_runs_as_a_count(
    durations: list[float], flagged: bool
) -> None:
    exact = percentile(durations, 50)
    assert (exact >= Settings().cache_candidate_min_p50_ms) == flagged
    found = [
        f for f in analyze(_reads(durations), Settings()).findings if f.id == "cache-candidate"
    ]
    if not flagged:
        assert found == []
    else:
        [finding] = found
        assert finding.evidence["p50_ms"] == round(exact, 3)
        assert finding.evidence["runs"] == len(durations)

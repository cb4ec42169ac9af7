"""The round-level verdicts on seeded rounds: drift that hits both sides is cancelled when
they are interleaved, and named instead of called a change when they are not."""

from __future__ import annotations

import math
import random

import pytest

from perfdoctor.bench.compare import Comparison, EndpointChange, compare, compare_interleaved
from perfdoctor.bench.verdict import CANNOT_TELL, NO_CHANGE, SLOWER, t_quantile
from perfdoctor.settings import Settings

ROUNDS = 10
PER_ROUND = 20


def _run(
    seed: int,
    level: list[float],
    queries: int = 3,
    pressure: float | None = 1.0,
    other: float | None = 0.0,
) -> dict[str, object]:
    """A bench result whose k-th round's requests sit around ``level[k]`` ms."""
    rng = random.Random(seed)
    latencies = [
        round(level[k] * rng.lognormvariate(0.0, 0.05), 4)
        for k in range(len(level))
        for _ in range(PER_ROUND)
    ]
    return {
        "version": 2,
        "tool": "perfdoctor bench",
        "mode": "inprocess",
        "rounds": len(level),
        "machine": {
            "cpus": 2,
            "load1": [0.1, 0.1],
            "cpu_pressure_pct": [pressure] * len(level),
            "other_cpu_pct": [other] * len(level),
        },
        "endpoints": {
            "GET /a": {
                "requests": len(latencies),
                "errors": 0,
                "latencies_ms": latencies,
                "round_sizes": [PER_ROUND] * len(level),
                "queries_per_request": float(queries),
                "memory_peak_kb": None,
                "per_request": {"queries": {"min": queries, "median": queries, "max": queries}},
            }
        },
        "findings": [],
    }


def _interleaved(before: dict[str, object], after: dict[str, object]) -> dict[str, object]:
    return {"version": 2, "mode": "interleaved", "before": before, "after": after}


# A machine that gets busier during the run: 10 ms at the start, 16 ms at the end.
DRIFT = [10.0 * 1.6 ** (k / (ROUNDS - 1)) for k in range(ROUNDS)]


def _only(result: Comparison) -> EndpointChange:
    [row] = result.endpoints
    assert row.latency is not None
    return row


def test_interleaved_drift_hitting_both_sides_is_no_change() -> None:
    for seed in range(10):
        row = _only(
            compare_interleaved(
                _interleaved(_run(seed, DRIFT), _run(seed + 99, DRIFT)), Settings(), seed=1
            )
        )
        assert row.verdict == NO_CHANGE, (seed, row.latency)


def test_interleaved_twenty_percent_under_drift_is_slower() -> None:
    slower = [v * 1.2 for v in DRIFT]
    for seed in range(10):
        data = _interleaved(_run(seed, DRIFT), _run(seed + 99, slower))
        row = _only(compare_interleaved(data, Settings(), seed=1))
        assert row.verdict == SLOWER, (seed, row.latency)
        assert 15 < row.latency.pct < 25


def test_separate_runs_on_a_differently_busy_machine_cannot_tell() -> None:
    """The issue's case: unchanged code, a neighbour process during the second run only."""
    quiet = _run(1, [10.0] * ROUNDS, pressure=0.5)
    loaded = _run(2, [14.0] * ROUNDS, pressure=52.0)
    row = _only(compare(quiet, loaded, Settings(), seed=1))
    assert row.verdict == CANNOT_TELL
    assert row.latency is not None
    sentence = row.latency.sentence()
    assert sentence.startswith("cannot tell: run-to-run noise ±")
    assert "exceeds the change (+41%)" in sentence
    assert "busier during the after run (CPU pressure 0% before, 52% after)" in sentence
    # The same two runs on an equally busy machine: a 40% change is called.
    row = _only(compare(_run(1, [10.0] * ROUNDS), _run(2, [14.0] * ROUNDS), Settings(), seed=1))
    assert row.verdict == SLOWER


def test_separate_runs_beside_a_neighbour_process_cannot_tell() -> None:
    """A neighbour on the other CPU makes no task wait (no CPU pressure) yet slowed
    unchanged code by up to 60% between runs here: its CPU time is what gives it away."""
    quiet = _run(1, [10.0] * ROUNDS)
    beside = _run(2, [13.0] * ROUNDS, other=49.0)
    row = _only(compare(quiet, beside, Settings(), seed=1))
    assert row.verdict == CANNOT_TELL
    assert row.latency is not None
    assert "other processes kept the machine busy (their share of the CPU time: 0% before, " in (
        row.latency.sentence()
    )
    # Busy during both runs: still not a verdict on a 30% change, and it says why.
    row = _only(compare(_run(1, [10.0] * ROUNDS, other=50.0), beside, Settings(), seed=1))
    assert row.verdict == CANNOT_TELL
    # A change far beyond what a neighbour did here is still called.
    row = _only(compare(quiet, _run(3, [25.0] * ROUNDS, other=49.0), Settings(), seed=1))
    assert row.verdict == SLOWER


def test_separate_runs_judge_on_rounds_not_requests() -> None:
    """Within each run the rounds disagree (the machine drifted): 2,000 requests would make a
    tiny bootstrap interval; ten rounds a side do not, and the verdict is not a change."""
    before = _run(3, DRIFT)
    after = _run(4, list(reversed([v * 0.92 for v in DRIFT])))
    row = _only(compare(before, after, Settings(), seed=1))
    assert row.verdict in (NO_CHANGE, CANNOT_TELL)
    # The per-request bootstrap would have called it: its interval excludes no change.
    assert row.median is not None and (row.median.diff_high < 0 or row.median.diff_low > 0)
    assert row.latency.spread_pct[0] > 10


def test_the_minimum_detectable_change_grows_with_the_noise() -> None:
    calm = _only(
        compare_interleaved(
            _interleaved(_run(5, [10.0] * ROUNDS), _run(6, [10.0] * ROUNDS)), Settings(), seed=1
        )
    )
    rng = random.Random(7)
    noisy_levels = [10.0 * rng.choice((1.0, 1.5)) for _ in range(ROUNDS)]
    noisy_after = [10.0 * rng.choice((1.0, 1.5)) for _ in range(ROUNDS)]
    noisy = _only(
        compare_interleaved(
            _interleaved(_run(5, noisy_levels), _run(6, noisy_after)), Settings(), seed=1
        )
    )
    assert calm.latency.mdc_pct == Settings().compare_min_change_pct
    assert noisy.latency.mdc_pct > calm.latency.mdc_pct
    assert noisy.latency.noise_pct > calm.latency.noise_pct


def test_a_query_count_change_is_a_regression_whatever_the_latency() -> None:
    result = compare(
        _run(1, [10.0] * ROUNDS, queries=2),
        _run(2, [10.0] * ROUNDS, queries=31),
        Settings(),
        seed=1,
    )
    row = _only(result)
    assert row.verdict == NO_CHANGE
    assert result.regressions == ["GET /a 2 → 31 queries per request"]
    same = compare(_run(1, [10.0] * ROUNDS), _run(2, [10.0] * ROUNDS), Settings(), seed=1)
    assert same.regressions == []


@pytest.mark.parametrize(("df", "expected"), [(3, 3.182), (9, 2.262), (30, 2.042), (1000, 1.962)])
def test_t_quantile(df: int, expected: float) -> None:
    assert math.isclose(t_quantile(0.975, df), expected, rel_tol=0.005)

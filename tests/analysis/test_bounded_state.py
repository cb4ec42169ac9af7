"""What the analysis keeps per request stays bounded: the machine evidence keeps
counts and maxima instead of a copy of each trace, and the per-request figures
(latencies, CPU and off-CPU times, sampled weights) are exact up to
``exact_percentile_values`` requests, then bucketed.

Capture puts a machine sample on every trace, so a store from ``perfdoctor run``
made slow-query keep a trace shell per request and query shape, and
slow-endpoint one per request: 147 MB of peak memory at a million spans, where
the same store without samples took 74 (benchmarks/analysis_scale.py).
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import random
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from perfdoctor.analysis.analyze import analyze
from perfdoctor.analysis.stats import Quantiles, Weighted, percentile, weighted_percentile
from perfdoctor.detectors import all_detectors
from perfdoctor.detectors._machine import MachineSeen
from perfdoctor.model import Trace
from perfdoctor.settings import Settings
from tests.machine.support import BUSY, QUIET, SETTINGS, capture


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> list[Trace]:
    """Real requests under capture: a slow endpoint (/nap) and a slow query (/report)."""
    return capture(tmp_path_factory.mktemp("bounded") / "traces.db", ["/nap", "/report"])


def many(traces: list[Trace], copies: int) -> list[Trace]:
    """``copies`` rounds of ``traces``, each request its own trace, on a machine
    busy for two rounds in three."""
    out = []
    for n in range(copies):
        for trace in traces:
            twin = copy.deepcopy(trace)
            twin.id = f"{trace.id}-{n}"
            twin.started_at += n
            twin.attrs["machine"] = dict(BUSY if n % 3 else QUIET)
            out.append(twin)
    return out


def live_traces() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is Trace)


def test_the_slow_findings_keep_nothing_of_the_requests_they_read(
    measured: list[Trace],
) -> None:
    sessions = [
        d.session(SETTINGS) for d in all_detectors() if d.id in ("slow-endpoint", "slow-query")
    ]
    before = live_traces()
    traces = many(measured, 40)
    for session in sessions:
        session.feed(traces)
    del traces
    # Nothing of the 240 traces is kept: no copy of any of them either.
    assert live_traces() == before
    found = {f.id: f for session in sessions for f in session.findings()}
    assert found.keys() == {"slow-endpoint", "slow-query"}
    # Every request still counts in the machine evidence: each endpoint was
    # requested 3 times a round, 26 of the 40 rounds on a busy machine.
    assert found["slow-endpoint"].evidence["machine"]["samples"] == 120
    assert "78 of 120 requests over the budget" in found["slow-endpoint"].evidence["busy_machine"]
    assert found["slow-query"].evidence["machine"]["samples"] == 120
    assert (
        "78 of 120 requests where it ran over the budget"
        in found["slow-query"].evidence["busy_machine"]
    )


def test_past_the_exact_limit_the_findings_count_every_request_and_keep_their_verdict(
    measured: list[Trace],
) -> None:
    traces = many(measured, 30)
    exact = {f.id: f for f in analyze(traces, SETTINGS).findings}
    bounded_settings = dataclasses.replace(SETTINGS, exact_percentile_values=5)
    bounded = {f.id: f for f in analyze(traces, bounded_settings).findings}
    for detector in ("slow-endpoint", "slow-query"):
        before, after = exact[detector].evidence, bounded[detector].evidence
        assert after.get("requests", after.get("runs")) == before.get(
            "requests", before.get("runs")
        )
        assert after["machine"] == before["machine"]
        assert after["busy_machine"].split(":")[0] == before["busy_machine"].split(":")[0]
        assert abs(after["p95_ms"] - before["p95_ms"]) <= 0.005 * before["p95_ms"] + 0.05
        assert bounded[detector].severity == exact[detector].severity


# --- the pieces, against their definitions ---------------------------------


def test_the_machine_summary_is_that_of_every_sample() -> None:
    rng = random.Random(3)
    for _ in range(300):
        samples: list[dict[str, float]] = []
        for _ in range(rng.randint(1, 30)):
            sample: dict[str, float] = {}
            if rng.random() < 0.9:
                sample["load1"] = round(rng.uniform(0, 8), rng.choice([1, 2]))
            if rng.random() < 0.9:
                sample["cpus"] = float(rng.choice([2, 4, 8]))
            if rng.random() < 0.7:
                sample["cpu_pressure"] = round(rng.uniform(0, 60), 2)
            if rng.random() < 0.5:
                sample["steal_pct"] = round(rng.uniform(0, 20), 1)
            samples.append(sample or {"cpus": 2.0})
        seen = MachineSeen()
        for sample in samples:
            seen.add(sample)
        assert seen.summary() == expected_summary(samples)
    assert MachineSeen().summary() is None


def expected_summary(samples: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"samples": len(samples)}
    loads = [s["load1"] for s in samples if "load1" in s]
    if loads:
        out["load1_max"] = round(max(loads), 2)
        out["load1_median"] = round(statistics.median(loads), 2)
    cpus = Counter(int(s["cpus"]) for s in samples if "cpus" in s)
    if cpus:
        out["cpus"] = cpus.most_common(1)[0][0]
    for key, digits in (("cpu_pressure", 2), ("steal_pct", 1)):
        values = [s[key] for s in samples if key in s]
        if values:
            out[f"{key}_max"] = round(max(values), digits)
    return out


def test_quantiles_median_and_total_are_exact_while_the_values_are_kept() -> None:
    rng = random.Random(9)
    data = [rng.lognormvariate(2, 1) for _ in range(1_001)]
    kept = Quantiles(exact=len(data))
    for value in data:
        kept.add(value)
    assert kept.median() == statistics.median(data)
    assert kept.total() == sum(data)
    past = Quantiles(exact=100)
    for value in data:
        past.add(value)
    assert abs(past.median() - statistics.median(data)) <= 0.005 * statistics.median(data)
    assert past.total() == pytest.approx(sum(data), rel=1e-12)
    assert Quantiles(exact=10).median() == 0.0


@pytest.mark.parametrize("pct", [50, 95, 99])
def test_weighted_values_are_exact_up_to_the_limit_and_within_half_a_percent_past_it(
    pct: float,
) -> None:
    rng = random.Random(11)
    # A sampled run: slow requests kept with weight 1, the rest each standing for 20.
    data = [rng.lognormvariate(3, 1) for _ in range(20_000)]
    weights = [1.0 if value > 60 else 20.0 for value in data]
    exact, past = Weighted(exact=len(data)), Weighted(exact=500)
    for value, weight in zip(data, weights):
        exact.add(value, weight)
        past.add(value, weight)
    assert exact.weighted_percentile(pct) == weighted_percentile(data, weights, pct)
    assert exact.percentile(pct) == percentile(data, pct)
    assert exact.total == past.total == sum(weights)
    assert len(past) == len(data) and len(past.values) == 0
    want = weighted_percentile(data, weights, pct)
    assert abs(past.weighted_percentile(pct) - want) <= 0.005 * want
    want = percentile(data, pct)
    assert abs(past.percentile(pct) - want) <= 0.005 * want


def test_endpoint_latencies_of_a_sampled_store_past_the_limit(tmp_path: Path) -> None:
    """The endpoint table's percentiles past the exact limit, for sampled traces
    (weighted) and whole ones (not)."""
    rng = random.Random(4)
    traces = []
    for n in range(3_000):
        ms = rng.lognormvariate(3, 0.8)
        attrs: dict[str, Any] = {}
        if n % 2 and ms < 50:
            attrs["sample"] = {"kept": "head", "rate": 0.05}
        traces.append(Trace(f"t{n}", "GET /x", "http", 1000.0 + n, ms, status=200, attrs=attrs))
    exact = analyze(traces, Settings()).endpoints
    bounded = analyze(traces, Settings(exact_percentile_values=100)).endpoints
    assert [e.requests for e in bounded] == [e.requests for e in exact]
    for before, after in zip(exact, bounded):
        for field in ("p50_ms", "p95_ms", "p99_ms"):
            want = getattr(before, field)
            assert abs(getattr(after, field) - want) <= 0.005 * want + 0.01

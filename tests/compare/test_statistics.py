"""The bootstrap and the verdict, on seeded samples (no timing is asserted)."""

from __future__ import annotations

import bisect
import random
import statistics

from perfdoctor.analysis.stats import percentile
from perfdoctor.bench.bootstrap import bootstrap_change, quantile_draw
from perfdoctor.bench.compare import compare
from perfdoctor.bench.verdict import FASTER, NO_CHANGE, SLOWER, TOO_FEW, from_interval
from perfdoctor.settings import Settings
from tests.compare.samples import endpoint, latencies, result


def _verdict(before: list[float], after: list[float], seed: int = 1) -> str:
    compared = compare(
        result({"GET /a": endpoint(before)}),
        result({"GET /a": endpoint(after)}),
        Settings(),
        seed=seed,
    )
    return compared.endpoints[0].verdict


def test_clearly_faster_and_clearly_slower() -> None:
    slow, fast = latencies(1, median_ms=40.0), latencies(2, median_ms=20.0)
    assert _verdict(slow, fast) == FASTER
    assert _verdict(fast, slow) == SLOWER


def test_same_distribution_is_no_detectable_change_in_most_seeds() -> None:
    verdicts = [_verdict(latencies(s), latencies(s + 1000), seed=s) for s in range(20)]
    assert verdicts.count(NO_CHANGE) >= 18, verdicts


def test_interval_holds_the_true_difference_of_a_known_shift() -> None:
    covered = 0
    for seed in range(20):
        before = latencies(seed, n=1000)
        after = latencies(seed + 5000, n=1000, shift_ms=3.0)
        change = bootstrap_change(
            before, after, 50.0, resamples=2000, confidence=0.95, rng=random.Random(seed)
        )
        covered += change.diff_low <= 3.0 <= change.diff_high
        assert change.ratio_low is not None and change.ratio_high is not None
        assert change.ratio_low < change.after / change.before < change.ratio_high
    # 95% intervals: about 19 of 20; the seeds are fixed, so this does not flake.
    assert covered >= 17


def test_significant_but_tiny_change_is_no_detectable_change() -> None:
    before = latencies(3, n=5000)
    after = [v * 1.02 for v in latencies(4, n=5000)]
    change = bootstrap_change(
        before, after, 50.0, resamples=2000, confidence=0.95, rng=random.Random(0)
    )
    assert change.diff_low > 0  # a real 2% shift, detected...
    assert change.ratio is not None and change.ratio_low and change.ratio_high

    def verdict(min_change_pct: float) -> str:
        assert change.ratio is not None and change.ratio_low and change.ratio_high
        return from_interval(
            change.ratio,
            change.ratio_low,
            change.ratio_high,
            drift_pct=0.0,
            min_change_pct=min_change_pct,
            units=(5000, 5000),
        ).verdict

    assert verdict(Settings().compare_min_change_pct) == NO_CHANGE  # ...not worth a word
    assert verdict(1.0) == SLOWER


def test_quantile_draw_matches_resampling_with_random_choices() -> None:
    """The O(1) order-statistic draw has the distribution of a real resample's quantile."""
    for n, pct in ((21, 50.0), (20, 50.0), (40, 95.0)):
        ordered = sorted(latencies(n, n=n))
        fast_rng, slow_rng = random.Random(7), random.Random(8)
        fast = [quantile_draw(ordered, pct, fast_rng) for _ in range(20_000)]
        slow = [percentile(slow_rng.choices(ordered, k=n), pct) for _ in range(20_000)]
        # Two-sample Kolmogorov-Smirnov distance: the bootstrap distribution is
        # discrete (sample values), so compare whole CDFs, not a few percentiles.
        assert _ks_distance(fast, slow) < 0.03, (n, pct)
        spread = statistics.stdev(slow)
        assert abs(statistics.fmean(fast) - statistics.fmean(slow)) < 0.05 * spread


def _ks_distance(a: list[float], b: list[float]) -> float:
    points = sorted(set(a) | set(b))
    a_sorted, b_sorted = sorted(a), sorted(b)
    return max(
        abs(bisect.bisect_right(a_sorted, x) / len(a) - bisect.bisect_right(b_sorted, x) / len(b))
        for x in points
    )


def test_same_seed_same_interval() -> None:
    before, after = latencies(1), latencies(2, shift_ms=1.0)
    a = compare(
        result({"GET /a": endpoint(before)}),
        result({"GET /a": endpoint(after)}),
        Settings(),
        seed=42,
    )
    b = compare(
        result({"GET /a": endpoint(before)}),
        result({"GET /a": endpoint(after)}),
        Settings(),
        seed=42,
    )
    assert a.endpoints == b.endpoints


def test_too_few_samples_gives_no_verdict() -> None:
    assert _verdict([10.0, 11.0], [50.0, 51.0]) == TOO_FEW


def test_5000_samples_each_side() -> None:
    """Resampling does not build resamples, so big runs stay quick (not timed here)."""
    before, after = latencies(1, n=5000), latencies(2, n=5000, median_ms=30.0)
    compared = compare(
        result({"GET /a": endpoint(before)}),
        result({"GET /a": endpoint(after)}),
        Settings(),
        seed=3,
    )
    assert compared.endpoints[0].verdict == SLOWER
    assert compared.resamples == 2000

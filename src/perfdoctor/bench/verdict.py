"""Latency verdicts from round-level statistics, honest about drift.

A bench run is several rounds; each round gives one number per endpoint, its
median latency. Requests inside a run are not independent (a neighbour process,
a CPU frequency change or a GC pause hits many in a row), so the unit of
evidence is the round, as in pyperf, where it is the process:

- **interleaved** (``bench --app BEFORE --app AFTER``): rounds alternate
  ABBA ABBA..., so the k-th round of each side sits in the same pair of time
  slots. Drift hits both members of a pair; the paired log ratios of the round
  medians cancel it, and a Student t interval over the pairs is the verdict's.
- **rounds** (two runs compared afterwards): a Welch t interval on the log round
  medians of each run covers drift *within* each run, not between the runs,
  which no statistic of two separate runs can see. So a drift allowance is
  added: a few % measured between quiet runs of the same code, much more when
  the two runs did not see the same machine (CPU pressure differed).
- **requests** (results without rounds): the per-request bootstrap of the
  median, plus the same allowance.

A change is called faster/slower only when the interval, widened by the
allowance, excludes no change and the change is at least the minimum worth
a word; a big change inside the noise is "cannot tell", with the noise named.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

FASTER, SLOWER = "faster", "slower"
NO_CHANGE, TOO_FEW = "no detectable change", "too few samples"
CANNOT_TELL = "cannot tell"

INTERLEAVED, ROUNDS, REQUESTS = "interleaved", "rounds", "requests"
METHOD_TEXT = {
    INTERLEAVED: "interleaved rounds (ABBA), paired t interval on the round medians",
    ROUNDS: "rounds of two separate runs, Welch t interval on the round medians "
    "plus a drift allowance between runs",
    REQUESTS: "per-request bootstrap of the median plus a drift allowance between runs "
    "(no rounds recorded)",
}
# Power used for the minimum detectable change: the change that would be called
# 80% of the time with this noise.
_POWER_Z = statistics.NormalDist().inv_cdf(0.80)


@dataclass(frozen=True)
class Latency:
    """The latency verdict of one endpoint and the numbers behind it."""

    method: str
    verdict: str
    ratio: float  # after / before
    ratio_low: float  # the interval of the ratio, the drift allowance not included
    ratio_high: float
    drift_pct: float  # allowance for drift between runs (0 when interleaved)
    noise_pct: float  # ± half-width of the interval, allowance included
    mdc_pct: float  # the smallest change this comparison would call
    units: tuple[int, int]  # rounds (or pairs twice, or requests) per side
    spread_pct: tuple[float | None, float | None]  # round-to-round spread per side
    note: str | None = None

    @property
    def pct(self) -> float:
        return (self.ratio - 1.0) * 100.0

    def sentence(self) -> str:
        """The verdict in words, with the noise it was judged against."""
        if self.verdict == CANNOT_TELL:
            why = f": {self.note}" if self.note else ""
            return (
                f"cannot tell: run-to-run noise ±{self.noise_pct:.0f}% exceeds the change "
                f"({self.pct:+.0f}%){why}"
            )
        if self.verdict == NO_CHANGE:
            why = f"; {self.note}" if self.note else ""
            return f"no detectable change (the smallest it could detect: ±{self.mdc_pct:.0f}%{why})"
        if self.verdict == TOO_FEW:
            return TOO_FEW
        return f"{self.verdict} by {abs(self.pct):.0f}% (noise ±{self.noise_pct:.0f}%)"


def t_quantile(p: float, df: float) -> float:
    """Student t quantile (Cornish-Fisher expansion; within 0.5% of exact from 3 df)."""
    z = statistics.NormalDist().inv_cdf(p)
    if df <= 0 or math.isinf(df):
        return z
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def round_medians(latencies: list[float], sizes: list[int]) -> list[float]:
    """The median of each round (``latencies`` in round order, ``sizes`` per round)."""
    medians = []
    start = 0
    for size in sizes:
        chunk = latencies[start : start + size]
        start += size
        if chunk:
            medians.append(statistics.median(chunk))
    return medians


def spread_pct(medians: list[float]) -> float | None:
    """Round-to-round standard deviation of a side, in % (of the log values)."""
    logs = [math.log(m) for m in medians if m > 0]
    if len(logs) < 2:
        return None
    return round(math.expm1(statistics.stdev(logs)) * 100.0, 1)


def paired(before: list[float], after: list[float]) -> tuple[float, float, float] | None:
    """Mean log ratio of paired rounds, its standard error and degrees of freedom."""
    diffs = [math.log(a / b) for b, a in zip(before, after) if a > 0 and b > 0]
    if len(diffs) < 3:
        return None
    return statistics.fmean(diffs), statistics.stdev(diffs) / math.sqrt(len(diffs)), len(diffs) - 1


def welch(before: list[float], after: list[float]) -> tuple[float, float, float] | None:
    """Difference of mean log round medians, its standard error and Welch's df."""
    b = [math.log(v) for v in before if v > 0]
    a = [math.log(v) for v in after if v > 0]
    if len(b) < 3 or len(a) < 3:
        return None
    vb, va = statistics.variance(b) / len(b), statistics.variance(a) / len(a)
    se = math.sqrt(vb + va)
    if se == 0:
        return statistics.fmean(a) - statistics.fmean(b), 0.0, float(len(a) + len(b) - 2)
    df = (vb + va) ** 2 / (vb**2 / (len(b) - 1) + va**2 / (len(a) - 1))
    return statistics.fmean(a) - statistics.fmean(b), se, df


def _pct(width: float, direction: float) -> float:
    """A width on the log scale as a % change in the direction of the change: +w is
    expm1(w) up, but a speedup can be at most 100% (-expm1(-w) down)."""
    value = math.expm1(width) if direction >= 0 else -math.expm1(-width)
    return round(value * 100.0, 1)


def judge(
    method: str,
    estimate: tuple[float, float, float],
    *,
    confidence: float,
    drift_pct: float,
    min_change_pct: float,
    units: tuple[int, int],
    spread: tuple[float | None, float | None],
    note: str | None = None,
) -> Latency:
    """The verdict for a mean log ratio ``d`` with standard error ``se`` on ``df``."""
    d, se, df = estimate
    t = t_quantile(1.0 - (1.0 - confidence) / 2.0, df)
    half = t * se
    allowance = math.log1p(drift_pct / 100.0)
    ratio = math.exp(d)
    pct = (ratio - 1.0) * 100.0
    big = abs(pct) >= min_change_pct
    if d - half > allowance and big:
        verdict = SLOWER
    elif d + half < -allowance and big:
        verdict = FASTER
    elif big:
        verdict = CANNOT_TELL
    else:
        verdict = NO_CHANGE
    return Latency(
        method=method,
        verdict=verdict,
        ratio=ratio,
        ratio_low=math.exp(d - half),
        ratio_high=math.exp(d + half),
        drift_pct=drift_pct,
        noise_pct=_pct(half + allowance, d),
        mdc_pct=max(min_change_pct, _pct((t + _POWER_Z) * se + allowance, d)),
        units=units,
        spread_pct=spread,
        note=note,
    )


def from_interval(
    ratio: float,
    ratio_low: float,
    ratio_high: float,
    *,
    drift_pct: float,
    min_change_pct: float,
    units: tuple[int, int],
) -> Latency:
    """The verdict from a bootstrap ratio interval (results without rounds)."""
    d = math.log(ratio)
    # The bootstrap interval is not symmetric; the wider side stands for both.
    half = max(d - math.log(ratio_low), math.log(ratio_high) - d, 0.0)
    allowance = math.log1p(drift_pct / 100.0)
    pct = (ratio - 1.0) * 100.0
    big = abs(pct) >= min_change_pct
    if math.log(ratio_low) > allowance and big:
        verdict = SLOWER
    elif math.log(ratio_high) < -allowance and big:
        verdict = FASTER
    else:
        verdict = CANNOT_TELL if big else NO_CHANGE
    return Latency(
        method=REQUESTS,
        verdict=verdict,
        ratio=ratio,
        ratio_low=ratio_low,
        ratio_high=ratio_high,
        drift_pct=drift_pct,
        noise_pct=_pct(half + allowance, d),
        mdc_pct=max(min_change_pct, _pct(1.5 * half + allowance, d)),
        units=units,
        spread_pct=(None, None),
    )

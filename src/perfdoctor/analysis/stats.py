"""Small statistics helpers shared by detectors and reports."""

from __future__ import annotations

import math
import statistics
from array import array
from collections import Counter
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (numpy's default), 0 for no values.

    >>> percentile([1, 2, 3, 4], 50)
    2.5
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def rounded(value: float, digits: int = 2) -> float:
    return round(value, digits)


class FloorMedian:
    """The median of values (as :func:`percentile` gives it), wanted only when it is
    at least ``floor``: values below the floor are counted, and only the largest of
    them kept; values at or above it are kept as they are (8 bytes each).

    A read that is fast in most requests then costs a few bytes however often it
    runs, and :meth:`median` is still :func:`percentile` ``(values, 50)`` to the
    last bit whenever that is at least the floor: the middle ranks are then the
    largest value below the floor or values kept.  A NaN is kept with the values
    at or above the floor (it is not below it), where ``sorted`` of all the values
    would have put it elsewhere: durations are never NaN.

    >>> m = FloorMedian(10.0)
    >>> for value in (1.0, 12.0, 3.0, 2.0):
    ...     m.add(value)
    >>> m.median(), len(m)
    (None, 4)
    >>> m.add(11.0); m.add(30.0); m.median()  # between 3 and 11
    7.0
    >>> m.add(20.0); m.median()
    11.0
    """

    __slots__ = ("above", "below", "floor", "top_below")

    def __init__(self, floor: float) -> None:
        self.floor = floor
        self.below = 0
        # The largest value below the floor (the last of equal ones, as a stable
        # sort would place it).
        self.top_below = -math.inf
        # Made with the first value kept (most reads never have one).
        self.above: array[float] | None = None

    def add(self, value: float) -> None:
        # (cache-candidate adds inline, the same three steps.)
        if value < self.floor:
            self.below += 1
            if value >= self.top_below:
                self.top_below = value
        elif self.above is None:
            self.above = array("d", (value,))
        else:
            self.above.append(value)

    def __len__(self) -> int:
        return self.below + (len(self.above) if self.above is not None else 0)

    def median(self) -> float | None:
        """``percentile(values, 50)`` (0.0 for no values), or None where it is surely
        below the floor; a figure returned may still be below it."""
        count = len(self)
        if not count:
            return 0.0
        below = self.below
        # percentile()'s ranks, computed as it computes them.
        rank = (count - 1) * 50 / 100.0
        low = math.floor(rank)
        high = math.ceil(rank)
        if high < below:
            # Both middle values are below the floor, and so is what lies between.
            return None
        ordered = sorted(self.above or ())
        high_value = ordered[high - below]
        if low == high:
            return float(high_value)
        low_value = self.top_below if low < below else ordered[low - below]
        return float(low_value + (high_value - low_value) * (rank - low))


class Quantiles:
    """Values kept for their percentiles in bounded memory.

    Up to ``exact`` values are kept as they are (8 bytes each), and
    :meth:`percentile` is :func:`percentile` of them.  Past that, they go into
    logarithmic buckets 1% wide, so a query shape run millions of times costs a
    few kilobytes (and up to 64 KB of values waiting to be counted), and a
    percentile is the middle of the bucket holding that rank: within 0.5% of the
    exact figure.
    """

    __slots__ = ("buckets", "count", "exact", "largest", "pending", "running", "values")

    def __init__(self, exact: int) -> None:
        self.exact = exact
        self.values = array("d")
        self.buckets: dict[int, int] | None = None
        # Past ``exact``: values not yet counted into the buckets, counted a batch at
        # a time (each distinct value once: durations in whole microseconds repeat).
        self.pending = array("d")
        self.count = 0
        self.largest = -math.inf
        # The sum, once past ``exact`` (before, the values' own sum).
        self.running = 0.0

    def __len__(self) -> int:
        return self.count

    def add(self, value: float) -> None:
        self.count += 1
        if value > self.largest:
            self.largest = value
        if self.buckets is None:
            self.values.append(value)
            if len(self.values) > self.exact:
                self.buckets = {}
                self.running = sum(self.values)
                for kept in self.values:
                    self._bucket(kept)
                self.values = array("d")
            return
        self.running += value
        self._bucket(value)

    def extend(self, values: Sequence[float]) -> None:
        """:meth:`add` each of ``values`` (the percentiles do not depend on the order)."""
        if not values:
            return
        if self.buckets is None and len(self.values) + len(values) <= self.exact:
            self.count += len(values)
            self.values.extend(values)
            most = max(values)
            if most > self.largest:
                self.largest = most
            return
        # Past ``exact`` (a query shape run 100k times and more): held in ``pending``
        # and counted into the buckets a batch at a time, each distinct value once,
        # not an add() and a _bucket() call per value.  The buckets hold counts, so
        # where the kept values turn into buckets does not matter.
        self.count += len(values)
        largest = self.largest
        buckets = self.buckets
        if buckets is None:
            kept = self.values
            self.values = array("d")
            buckets = self.buckets = {}
            self.running = sum(kept)
            _into_counted(buckets, Counter(kept))
        self.running += sum(values)
        for value in values:
            if value > largest:
                largest = value
        self.largest = largest
        pending = self.pending
        pending.extend(values)
        if len(pending) >= _PENDING:
            self._count_pending()

    def as_weighted(self) -> Weighted:
        """The values so far as a :class:`Weighted`, each of weight 1."""
        weighted = Weighted(self.exact)
        if self.buckets is None:
            for value in self.values:
                weighted.add(value, 1.0)
            return weighted
        self._count_pending()
        weighted.counts = dict(self.buckets)
        weighted.mass = {index: float(count) for index, count in self.buckets.items()}
        weighted.count = self.count
        weighted.total = float(self.count)
        weighted.largest = self.largest
        return weighted

    def _count_pending(self) -> None:
        if self.pending:
            assert self.buckets is not None
            _into_counted(self.buckets, Counter(self.pending))  # counted in C
            self.pending = array("d")

    def _bucket(self, value: float) -> None:
        assert self.buckets is not None
        index = _index(value)
        self.buckets[index] = self.buckets.get(index, 0) + 1

    def median(self) -> float:
        """``statistics.median`` of the values while they are kept exactly, then the
        50th percentile of the buckets (0.0 for none)."""
        if self.buckets is None:
            return float(statistics.median(self.values)) if self.values else 0.0
        return self.percentile(50)

    def total(self) -> float:
        """The values' sum (exactly ``sum()`` of them while they are kept)."""
        if self.buckets is None:
            return sum(self.values)
        return self.running

    def percentile(self, pct: float) -> float:
        if self.buckets is None:
            return percentile(self.values, pct)
        self._count_pending()
        return _bucket_percentile(self.buckets, self.count, self.largest, pct)


def _bucket_percentile(buckets: dict[int, int], count: int, largest: float, pct: float) -> float:
    """:func:`percentile` of ``count`` values counted into ``buckets``: the middle of
    the bucket holding each rank (the largest value for the top one)."""
    rank = (count - 1) * pct / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    found: dict[int, float] = {}
    seen = 0
    for index in sorted(buckets):
        seen += buckets[index]
        middle = _middle(index, largest)
        for wanted in (low, high):
            if wanted not in found and seen > wanted:
                found[wanted] = middle
        if high in found:
            break
    if high == count - 1:
        found[high] = largest
    value_low, value_high = found.get(low, largest), found.get(high, largest)
    # Between two ranks as percentile() interpolates.
    return value_low + (value_high - value_low) * (rank - low)


def _middle(index: int, largest: float) -> float:
    return 0.0 if index == _ZERO else min(_GAMMA ** (index + 0.5), largest)


def _index(value: float) -> int:
    return _ZERO if value <= 0 else math.floor(math.log(value) / _LOG_GAMMA)


def weighted_percentile(values: Sequence[float], weights: Sequence[float], pct: float) -> float:
    """The value under which ``pct`` percent of the total weight lies (0 for none).

    >>> weighted_percentile([10, 20], [1, 3], 50)
    20.0
    """
    if not values:
        return 0.0
    pairs = sorted(zip(values, weights))
    total = sum(w for _, w in pairs)
    target = total * pct / 100.0
    running = 0.0
    for value, w in pairs:
        running += w
        if running >= target - 1e-9:
            return float(value)
    return float(pairs[-1][0])


class Weighted:
    """Values with a weight each (a sampled request stands for the requests the
    draw left out), for plain and weighted percentiles in bounded memory: up to
    ``exact`` values are kept as they are (16 bytes each) and the percentiles are
    exact; past that, counts and weights go into :class:`Quantiles`' 1%-wide
    buckets (a percentile within 0.5%).
    """

    __slots__ = ("count", "counts", "exact", "largest", "mass", "total", "values", "weights")

    def __init__(self, exact: int) -> None:
        self.exact = exact
        self.values = array("d")
        self.weights = array("d")
        self.counts: dict[int, int] | None = None
        self.mass: dict[int, float] = {}
        self.count = 0
        self.total = 0.0
        self.largest = -math.inf

    def __len__(self) -> int:
        return self.count

    def add(self, value: float, weight: float) -> None:
        self.count += 1
        self.total += weight
        if value > self.largest:
            self.largest = value
        if self.counts is None:
            self.values.append(value)
            self.weights.append(weight)
            if len(self.values) <= self.exact:
                return
            self.counts = {}
            for kept, kept_weight in zip(self.values, self.weights):
                self._bucket(kept, kept_weight)
            self.values, self.weights = array("d"), array("d")
            return
        self._bucket(value, weight)

    def _bucket(self, value: float, weight: float) -> None:
        assert self.counts is not None
        index = _index(value)
        self.counts[index] = self.counts.get(index, 0) + 1
        self.mass[index] = self.mass.get(index, 0.0) + weight

    def percentile(self, pct: float) -> float:
        """:func:`percentile` of the values, their weights aside."""
        if self.counts is None:
            return percentile(self.values, pct)
        return _bucket_percentile(self.counts, self.count, self.largest, pct)

    def weighted_percentile(self, pct: float) -> float:
        """:func:`weighted_percentile` of the values by their weights."""
        if self.counts is None:
            return weighted_percentile(self.values, self.weights, pct)
        target = sum(self.mass.values()) * pct / 100.0
        running = 0.0
        index = _ZERO
        for index in sorted(self.mass):
            running += self.mass[index]
            if running >= target - 1e-9:
                break
        return _middle(index, self.largest)


class SampledQuantiles:
    """Values each with the weight of the request it came from (see
    :func:`perfdoctor.analysis.sampling.weight`), for percentiles that estimate
    every request's rather than the kept ones': a sampled run keeps every slow
    request but a share of the others, so the kept values lean slow.

    While every weight is 1 (a store captured without sampling) the values go
    into a :class:`Quantiles` as they are, at its cost and with its figures; the
    first other weight moves them into a :class:`Weighted`.
    """

    __slots__ = ("plain", "weighted")

    def __init__(self, exact: int) -> None:
        self.plain = Quantiles(exact)
        self.weighted: Weighted | None = None

    def __len__(self) -> int:
        return self.weighted.count if self.weighted is not None else self.plain.count

    def add(self, value: float, weight: float = 1.0) -> None:
        if self.weighted is None:
            if weight == 1.0:
                self.plain.add(value)
                return
            self.weighted = self.plain.as_weighted()
        self.weighted.add(value, weight)

    def extend(self, values: Sequence[float], weight: float = 1.0) -> None:
        if self.weighted is None:
            if weight == 1.0:
                self.plain.extend(values)
                return
            self.weighted = self.plain.as_weighted()
        add = self.weighted.add
        for value in values:
            add(value, weight)

    @property
    def largest(self) -> float:
        return self.weighted.largest if self.weighted is not None else self.plain.largest

    def estimated_count(self) -> int:
        """How many values the kept ones stand for (their count without sampling)."""
        if self.weighted is None:
            return self.plain.count
        return round(self.weighted.total)

    def percentile(self, pct: float) -> float:
        weighted = self.weighted
        if weighted is None:
            return self.plain.percentile(pct)
        if weighted.total > weighted.count:
            return weighted.weighted_percentile(pct)
        return weighted.percentile(pct)


def _into_counted(buckets: dict[int, int], counts: dict[float, int]) -> None:
    """Count values (value -> how many times it came) into ``buckets`` as
    :func:`_index` places each."""
    log, floor, gamma, zero = math.log, math.floor, _LOG_GAMMA, _ZERO
    for value, times in counts.items():
        index = zero if value <= 0 else floor(log(value) / gamma)
        buckets[index] = buckets.get(index, 0) + times


# Values held before they are counted into the buckets (8 bytes each).
_PENDING = 8192
_GAMMA = 1.01
_LOG_GAMMA = math.log(_GAMMA)
# The bucket of zero and negative values (a span of no measurable length).
_ZERO = -(10**9)

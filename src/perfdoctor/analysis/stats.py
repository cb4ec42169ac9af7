"""Small statistics helpers shared by detectors and reports."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence


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


class Quantiles:
    """Values kept for their percentiles in bounded memory.

    Up to ``exact`` values are kept as they are (8 bytes each), and
    :meth:`percentile` is :func:`percentile` of them.  Past that, they go into
    logarithmic buckets 1% wide, so a query shape run millions of times costs a
    few kilobytes, and a percentile is the middle of the bucket holding that
    rank: within 0.5% of the exact figure.
    """

    __slots__ = ("buckets", "count", "exact", "largest", "values")

    def __init__(self, exact: int) -> None:
        self.exact = exact
        self.values = array("d")
        self.buckets: dict[int, int] | None = None
        self.count = 0
        self.largest = -math.inf

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
                for kept in self.values:
                    self._bucket(kept)
                self.values = array("d")
            return
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
        # Past ``exact`` (a query shape run 100k times and more): bucketed in one
        # loop, not an add() and a _bucket() call per value.  The buckets hold counts,
        # so where the kept values turn into buckets does not matter.
        self.count += len(values)
        largest = self.largest
        buckets = self.buckets
        if buckets is None:
            kept = self.values
            self.values = array("d")
            buckets = self.buckets = {}
            _into(buckets, kept)
        for value in values:
            if value > largest:
                largest = value
        self.largest = largest
        _into(buckets, values)

    def _bucket(self, value: float) -> None:
        assert self.buckets is not None
        index = _ZERO if value <= 0 else math.floor(math.log(value) / _LOG_GAMMA)
        self.buckets[index] = self.buckets.get(index, 0) + 1

    def percentile(self, pct: float) -> float:
        if self.buckets is None:
            return percentile(self.values, pct)
        rank = (self.count - 1) * pct / 100.0
        low, high = math.floor(rank), math.ceil(rank)
        found: dict[int, float] = {}
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            middle = 0.0 if index == _ZERO else min(_GAMMA ** (index + 0.5), self.largest)
            for wanted in (low, high):
                if wanted not in found and seen > wanted:
                    found[wanted] = middle
            if high in found:
                break
        if high == self.count - 1:
            found[high] = self.largest
        value_low, value_high = found.get(low, self.largest), found.get(high, self.largest)
        # Between two ranks as percentile() interpolates.
        return value_low + (value_high - value_low) * (rank - low)


def _into(buckets: dict[int, int], values: Iterable[float]) -> None:
    """Count ``values`` into ``buckets`` as :meth:`Quantiles._bucket` counts each."""
    log, floor, gamma, zero = math.log, math.floor, _LOG_GAMMA, _ZERO
    for value in values:
        index = zero if value <= 0 else floor(log(value) / gamma)
        buckets[index] = buckets.get(index, 0) + 1


_GAMMA = 1.01
_LOG_GAMMA = math.log(_GAMMA)
# The bucket of zero and negative values (a span of no measurable length).
_ZERO = -(10**9)

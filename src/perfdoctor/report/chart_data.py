"""Chart data for the HTML report: latency histograms, and JSON safe in a page."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

MAX_HISTOGRAM_BINS = 20


def _nice_width(span: float, bins: int) -> float:
    """A bin width of 1, 2 or 5 times a power of ten covering ``span`` in ``bins``."""
    raw = span / bins
    power = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 5, 10):
        if raw <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def histogram(values: Sequence[float]) -> dict[str, Any]:
    """Latencies counted in bins of a round width: ``edges`` has one more item than ``counts``."""
    if not values:
        return {"edges": [], "counts": [], "n": 0, "decimals": 0}
    low, high = min(values), max(values)
    bins = max(5, min(MAX_HISTOGRAM_BINS, math.ceil(math.sqrt(len(values)))))
    width = _nice_width(high - low, bins) if high > low else _nice_width(max(high, 1.0), 10)
    start = math.floor(low / width) * width
    count = max(1, math.floor((high - start) / width) + 1)
    counts = [0] * count
    for value in values:
        counts[min(count - 1, int((value - start) // width))] += 1
    edges = [round(start + i * width, 6) for i in range(count + 1)]
    # Enough decimals to tell the edges apart, the same on every tick.
    decimals = max(0, -math.floor(math.log10(width)))
    return {"edges": edges, "counts": counts, "n": len(values), "decimals": decimals}


def _finite(data: Any) -> Any:
    """``data`` with NaN and infinities as null: JSON.parse rejects them."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(value) for value in data]
    return data


def script_json(data: Any) -> str:
    """JSON safe inside a <script> element: nothing in it can close the element or
    open a comment, whatever the statements and URLs it carries contain."""
    text = json.dumps(_finite(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, replacement in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, replacement)
    return text

"""What a sampled capture (``run --sample``) kept, and the estimates drawn from it.

A kept trace carries ``attrs["sample"] = {"rate": r, "kept": why}``.  A request
the head draw kept (``why`` "head") stands for ``1/r`` requests like it; a slow
or failed request ("slow", "error") is kept whatever the draw, so it stands for
itself (weight 1).  The store's ``sampling`` table counts, per endpoint, every
request a sampled run saw.

Which numbers are exact and which are estimates, in a sampled report:

- exact: the requests seen (counted, every one; when retention drops old traces,
  the requests they account for leave the counts with them, see
  ``perfdoctor.store.retention``), and the failed and slow requests (all kept);
- estimates: latency percentiles, queries per request and the per-request means
  (weighted by the above), and how many requests a finding would have shown up
  in ("seen in 37 of ~740 requests": 37 kept traces of about 740 requests).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from perfdoctor.model import Trace


def weight(trace: Trace) -> float:
    """How many requests ``trace`` stands for (1 without sampling)."""
    sample = trace.attrs.get("sample")
    if isinstance(sample, dict) and sample.get("kept") == "head":
        rate = sample.get("rate")
        if isinstance(rate, (int, float)) and 0 < rate <= 1:
            return 1.0 / rate
    return 1.0


def has_detail(trace: Trace) -> bool:
    """Whether ``trace`` recorded its operations: not one the tail rule kept from a
    request the draw left out under ``--sample-tail summary`` (its name, status and
    timings only)."""
    sample = trace.attrs.get("sample")
    return not (isinstance(sample, dict) and sample.get("summary"))


def is_sampled(trace: Trace) -> bool:
    return isinstance(trace.attrs.get("sample"), dict)


@dataclass
class Sampled:
    """One endpoint of a sampled capture: the requests seen and the traces kept."""

    seen: int
    kept: int
    rate: float
    # Of those kept, traces without their operations (``--sample-tail summary``).
    summary: int = 0

    def line(self, name: str) -> str:
        text = f"{name}: kept {self.kept} of {self.seen} requests (sample rate {_rate(self.rate)})"
        if self.summary:
            text += f"; {self.summary} slow or failed without their operations"
        return text


class Held:
    """Per endpoint, what the store holds: traces, sampled runs' lowest rate, and
    traces of unsampled runs (gathered chunk by chunk: a few counts per endpoint)."""

    def __init__(self) -> None:
        self.unsampled: dict[str, int] = {}
        self.rates: dict[str, float] = {}
        self.held: dict[str, int] = {}
        self.summaries: dict[str, int] = {}

    def feed(self, traces: Iterable[Trace]) -> None:
        held, rates, unsampled = self.held, self.rates, self.unsampled
        for trace in traces:
            held[trace.name] = held.get(trace.name, 0) + 1
            sample = trace.attrs.get("sample")
            if isinstance(sample, dict):
                rate = sample.get("rate")
                if isinstance(rate, (int, float)):
                    rates[trace.name] = min(rates.get(trace.name, 1.0), float(rate))
                if sample.get("summary"):
                    self.summaries[trace.name] = self.summaries.get(trace.name, 0) + 1
            else:
                unsampled[trace.name] = unsampled.get(trace.name, 0) + 1

    def summary(self, counts: dict[str, tuple[int, int]]) -> dict[str, Sampled]:
        # An endpoint none of whose requests was kept has no trace to tell its
        # rate: it was sampled as the others were (it said "rate 1" before).
        run_rate = min(self.rates.values(), default=1.0)
        return {
            name: Sampled(
                seen=seen + self.unsampled.get(name, 0),
                kept=self.held.get(name, 0),
                rate=self.rates.get(name, run_rate),
                summary=self.summaries.get(name, 0),
            )
            for name, (seen, _kept) in counts.items()
        }


def summarise(traces: Sequence[Trace], counts: dict[str, tuple[int, int]]) -> dict[str, Sampled]:
    """Per endpoint a sampled run saw: every request seen (sampled runs' counts,
    plus traces of unsampled runs) and the traces the store holds."""
    held = Held()
    held.feed(traces)
    return held.summary(counts)


def estimate_line(kept: int, seen: int) -> str:
    """'seen in 37 of ~740 requests'."""
    return f"seen in {kept} of ~{seen} requests"


def note(sampled: dict[str, Sampled]) -> str | None:
    """One line for a report's header, None without sampling."""
    if not sampled:
        return None
    seen = sum(s.seen for s in sampled.values())
    kept = sum(s.kept for s in sampled.values())
    rates = sorted({_rate(s.rate) for s in sampled.values()})
    summary = sum(s.summary for s in sampled.values())
    without = (
        f" {summary} of them, slow or failed and not drawn, were kept without their "
        "operations (--sample-tail summary): q/req and the time by kind are over the others."
        if summary
        else ""
    )
    return (
        f"Sampled: {kept} traces kept of {seen} requests seen (rate {', '.join(rates)}; "
        "slow and failed requests always kept). Request counts are as seen; percentiles, "
        "q/req and means are estimates weighted by the sample rate." + without
    )


def _rate(rate: float) -> str:
    return f"{rate:g}" if math.isfinite(rate) else "?"

"""Per-endpoint figures gathered while a store is read chunk by chunk.

What is kept per trace is its latency and weight (16 bytes, for exact
percentiles, up to ``exact_percentile_values`` requests of an endpoint; past
that, 1%-wide buckets: :class:`perfdoctor.analysis.stats.SampledQuantiles`), never the
trace: the traces of a chunk can go once the chunk is read.  Sums are added in
the order the traces come, as the one-piece computation added them, so the
figures are the same.
"""

from __future__ import annotations

from collections.abc import Iterable

from perfdoctor.analysis import sampling, timing
from perfdoctor.analysis.stats import SampledQuantiles
from perfdoctor.detectors._kinds import of_kind
from perfdoctor.model import SERVER_KIND, EndpointStats, Trace
from perfdoctor.settings import Settings


class EndpointSummary:
    """One endpoint's requests so far: latencies, weights, and weighted sums."""

    __slots__ = ("detailed", "latencies", "name", "queries", "sums")

    def __init__(self, name: str, exact: int) -> None:
        self.name = name
        self.latencies = SampledQuantiles(exact)
        # The weight of the requests whose operations were recorded: what the
        # per-request means of queries and time by kind are over.
        self.detailed = 0.0
        self.sums = dict.fromkeys(timing.NAMES, 0.0)
        self.queries = 0.0

    def add(self, trace: Trace) -> None:
        weight = sampling.weight(trace)
        self.latencies.add(timing.latency_ms(trace), weight)
        if not sampling.has_detail(trace):
            return
        self.detailed += weight
        sums = self.sums
        for bucket, ms in timing.shared_breakdown(trace).items():
            sums[bucket] += ms * weight
        self.queries += len(of_kind(trace, "db")) * weight

    def stats(self, seen: sampling.Sampled | None) -> EndpointStats:
        durations = self.latencies
        p50, p95, p99 = (durations.percentile(q) for q in (50, 95, 99))

        # Over the requests with their operations recorded (all of them, unless
        # ``--sample-tail summary`` kept some without).
        detailed = self.detailed or 1.0

        def mean(bucket: str) -> float:
            return round(self.sums[bucket] / detailed, 2)

        return EndpointStats(
            name=self.name,
            requests=seen.seen if seen is not None else len(durations),
            p50_ms=round(p50, 2),
            p95_ms=round(p95, 2),
            p99_ms=round(p99, 2),
            queries_per_request=round(self.queries / detailed, 2),
            db_ms=mean("db"),
            http_ms=mean("http"),
            cache_ms=mean("cache"),
            python_ms=mean("python"),
            summaries_only=self.detailed == 0 and len(durations) > 0,
        )


class Endpoints:
    """Every endpoint's summary; a server's own work outside requests is left out."""

    def __init__(self, exact: int = Settings.exact_percentile_values) -> None:
        self.summaries: dict[str, EndpointSummary] = {}
        self.exact = exact

    def feed(self, traces: Iterable[Trace]) -> None:
        summaries = self.summaries
        for trace in traces:
            if trace.kind == SERVER_KIND:
                continue
            summary = summaries.get(trace.name)
            if summary is None:
                summary = summaries[trace.name] = EndpointSummary(trace.name, self.exact)
            summary.add(trace)

    def stats(self, sampled: dict[str, sampling.Sampled] | None = None) -> list[EndpointStats]:
        found = [
            s.stats(sampled.get(name) if sampled else None) for name, s in self.summaries.items()
        ]
        found.sort(key=lambda s: (-s.p95_ms, s.name))
        return found

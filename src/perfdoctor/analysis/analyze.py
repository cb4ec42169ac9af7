"""Run every detector over the traces and summarise each endpoint.

Traces come in chunks (one endpoint's, a bounded number at a time: a store is
read that way by :mod:`perfdoctor.store.chunks`, and traces in memory are cut
the same way by :func:`chunks_of`), so what is held at once is one chunk plus
what the detectors and summaries keep per query shape, call site or endpoint.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from perfdoctor.analysis import pertrace, sampling
from perfdoctor.analysis.hotspots import Profiles
from perfdoctor.analysis.merging import impact_ms, merge, sort_key
from perfdoctor.analysis.summaries import Endpoints
from perfdoctor.callsite import display_path
from perfdoctor.detectors import all_detectors
from perfdoctor.gc_paused import gc_per_chunk
from perfdoctor.model import SEVERITY_RANK, EndpointStats, Finding, Location, Trace
from perfdoctor.settings import Settings
from perfdoctor.store.chunks import Chunk
from perfdoctor.store.salvage import Damage
from perfdoctor.suppress import Suppressed, apply_ignores

if TYPE_CHECKING:
    from perfdoctor.analysis.budgets import BudgetRow
    from perfdoctor.analysis.shards import Merged

__all__ = [
    "Analysis",
    "analyze",
    "analyze_chunks",
    "chunks_of",
    "endpoint_stats",
    "impact_ms",
    "merge",
]


class Feeder(Protocol):
    """Anything that reads the traces chunk by chunk."""

    def feed(self, traces: Sequence[Trace]) -> None: ...


@dataclass
class Analysis:
    findings: list[Finding]
    endpoints: list[EndpointStats]
    traces: int = 0
    detectors: list[str] = field(default_factory=list)
    # [tool.perfdoctor.budgets] checked (perfdoctor.analysis.budgets.apply): one row per limit.
    budgets: list[BudgetRow] = field(default_factory=list)
    # `run --profile`: endpoint -> top user-code frames (perfdoctor.analysis.hotspots).
    hotspots: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Findings left out by [tool.perfdoctor.ignore], inline comments or --baseline.
    suppressed: Suppressed = field(default_factory=Suppressed)
    # Rows of the store that could not be read and were left out.
    damage: Damage = field(default_factory=Damage)
    # Endpoints captured with `run --sample`: requests seen and traces kept.
    sampled: dict[str, sampling.Sampled] = field(default_factory=dict)
    # When the earliest trace analysed started (epoch seconds), None for none.
    earliest: float | None = None
    # `perfdoctor merge`: the shards' reports this analysis was merged from.
    merged: Merged | None = None

    def severity_counts(self) -> dict[str, int]:
        """How many findings of each severity there are, worst first."""
        counts: Counter[str] = Counter(f.severity for f in self.findings)
        ranked = sorted(SEVERITY_RANK, key=SEVERITY_RANK.__getitem__, reverse=True)
        return {severity: counts[severity] for severity in ranked if counts[severity]}

    def findings_per_endpoint(self) -> Counter[str]:
        return Counter(f.endpoint or "" for f in self.findings)

    def fails(self, level: str | None) -> bool:
        """Whether a finding at ``level`` or worse exists (``--fail-on``)."""
        if level is None:
            return False
        threshold = SEVERITY_RANK[level]
        return any(SEVERITY_RANK[f.severity] >= threshold for f in self.findings)


def _relative(location: Location | None) -> Location | None:
    if location is None:
        return None
    return dataclasses.replace(location, path=display_path(location.path))


def _present(finding: Finding) -> Finding:
    finding.location = _relative(finding.location)
    loop = finding.evidence.get("loop")
    if isinstance(loop, dict) and "path" in loop:
        loop["path"] = display_path(loop["path"])
    sequence = finding.evidence.get("sequence")
    if isinstance(sequence, dict):
        for step in sequence.get("steps") or ():
            if isinstance(step, dict) and step.get("path"):
                step["path"] = display_path(step["path"])
    return finding


def endpoint_stats(
    traces: Sequence[Trace], sampled: dict[str, sampling.Sampled] | None = None
) -> list[EndpointStats]:
    """Per endpoint: latency percentiles, and the mean ms per request in each of
    db, http, cache and python (the wall time no span covers); see
    :mod:`perfdoctor.analysis.timing`.

    Traces of a sampled run are weighted by the requests each stands for, and
    ``requests`` is what was seen (:mod:`perfdoctor.analysis.sampling`)."""
    endpoints = Endpoints()
    endpoints.feed(traces)
    return endpoints.stats(sampled)


def chunks_of(traces: Iterable[Trace], size: int) -> Iterator[list[Trace]]:
    """Traces in the chunks a store read gives (:func:`perfdoctor.store.chunks.read`):
    endpoint by endpoint in the order of each one's first trace, at most ``size``
    traces a chunk."""
    groups: dict[str, list[Trace]] = {}
    for trace in traces:
        groups.setdefault(trace.name, []).append(trace)
    for group in groups.values():
        for start in range(0, len(group), max(1, size)):
            yield group[start : start + size]


def note_sampling(findings: list[Finding], sampled: dict[str, sampling.Sampled]) -> None:
    """A finding on a sampled endpoint says how many requests its count is out of."""
    for finding in findings:
        affected = finding.evidence.get("requests_affected")
        if not isinstance(affected, int):
            continue
        # One finding for several endpoints (no-connection-reuse's one cause) is out
        # of the requests of all of them.
        also = finding.evidence.get("also_on")
        names = [finding.endpoint or ""] + [
            str(e.get("endpoint"))
            for e in (also if isinstance(also, list) else ())
            if isinstance(e, dict)
        ]
        seen = [sampled[name].seen for name in names if name in sampled]
        if seen:
            finding.evidence["sampled"] = sampling.estimate_line(affected, sum(seen))


def analyze(
    traces: Sequence[Trace],
    settings: Settings,
    sample_counts: dict[str, tuple[int, int]] | None = None,
) -> Analysis:
    """``sample_counts``: the store's sampling table (:func:`perfdoctor.store.sampling_counts`)."""
    return analyze_chunks(
        chunks_of(traces, settings.analysis_chunk_traces), settings, sample_counts
    )


def analyze_chunks(
    chunks: Iterable[Sequence[Trace]],
    settings: Settings,
    sample_counts: dict[str, tuple[int, int]] | None = None,
    also: Sequence[Feeder] = (),
) -> Analysis:
    """The analysis of traces read chunk by chunk, each chunk let go once every
    detector and summary has seen it.  ``also``: more readers of every chunk
    (budget measures)."""
    detectors = all_detectors()
    sessions = [detector.session(settings) for detector in detectors]
    endpoints = Endpoints(settings.exact_percentile_values)
    held, profiles = sampling.Held(), Profiles()
    readers: list[Feeder] = [*sessions, endpoints, held, profiles, *also]
    count = 0
    earliest: float | None = None
    with gc_per_chunk() as collector:
        for chunk in chunks:
            pertrace.forget()
            size = len(chunk)
            count += size
            for trace in chunk:
                if earliest is None or trace.started_at < earliest:
                    earliest = trace.started_at
            for reader in readers:
                reader.feed(chunk)
            # Let go of the traces before collecting (the chunk's memos too; the
            # store's reader still names the list): the collection then does not
            # scan what reference counting frees.  Only a chunk the store's reader
            # made for this read: a caller's own list is left as it is.
            if type(chunk) is Chunk:
                chunk.clear()
            pertrace.forget()
            collector.chunk_done(size)
    pertrace.forget()
    findings = [_present(f) for f in merge(f for s in sessions for f in s.findings())]
    findings.sort(key=sort_key)
    # Here, once: every report format, --fail-on and the pytest plugin read these findings.
    findings, ignored = apply_ignores(findings, settings.ignore)
    sampled = held.summary(sample_counts) if sample_counts else {}
    note_sampling(findings, sampled)
    return Analysis(
        findings=findings,
        suppressed=Suppressed(ignored=ignored),
        endpoints=endpoints.stats(sampled),
        sampled=sampled,
        traces=count,
        detectors=[d.id for d in detectors],
        hotspots=profiles.top(),
        earliest=earliest,
    )

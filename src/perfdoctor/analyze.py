"""Run every detector over the traces and summarise each endpoint."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from perfdoctor import sampling, timing
from perfdoctor.callsite import display_path
from perfdoctor.detectors import all_detectors
from perfdoctor.hotspots import endpoint_hotspots
from perfdoctor.model import SEVERITY_RANK, EndpointStats, Finding, Location, Trace, by_endpoint
from perfdoctor.settings import Settings
from perfdoctor.stats import percentile
from perfdoctor.store.salvage import Damage
from perfdoctor.suppress import Suppressed, apply_ignores

if TYPE_CHECKING:
    from perfdoctor.budgets import BudgetRow


@dataclass
class Analysis:
    findings: list[Finding]
    endpoints: list[EndpointStats]
    traces: int = 0
    detectors: list[str] = field(default_factory=list)
    # [tool.perfdoctor.budgets] checked (perfdoctor.budgets.apply): one row per limit.
    budgets: list[BudgetRow] = field(default_factory=list)
    # `run --profile`: endpoint -> top user-code frames (perfdoctor.hotspots).
    hotspots: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Findings left out by [tool.perfdoctor.ignore], inline comments or --baseline.
    suppressed: Suppressed = field(default_factory=Suppressed)
    # Rows of the store that could not be read and were left out.
    damage: Damage = field(default_factory=Damage)
    # Endpoints captured with `run --sample`: requests seen and traces kept.
    sampled: dict[str, sampling.Sampled] = field(default_factory=dict)

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


def impact_ms(finding: Finding) -> float:
    """What a finding costs, to rank by: wasted time over every request it was seen in."""
    evidence = finding.evidence
    if "runs" in evidence and "p50_ms" in evidence:
        return float(evidence["runs"]) * float(evidence["p50_ms"])
    # An N+1 costs the request its whole loop (ORM and Python between the queries
    # included), not only the database time of its queries.
    felt = evidence.get("loop_ms", evidence.get("total_ms", 0.0))
    per_request = float(evidence.get("wasted_ms", felt) or 0.0)
    if "requests_affected" in evidence:
        return per_request * int(evidence["requests_affected"])
    return per_request


def merge(findings: list[Finding]) -> list[Finding]:
    """One finding per fingerprint: the worst example, with how many requests showed it."""
    groups: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        groups[finding.fingerprint or str(id(finding))].append(finding)
    merged = []
    for group in groups.values():
        worst = max(group, key=lambda f: (SEVERITY_RANK[f.severity], impact_ms(f)))
        # A detector that looks across requests counts the requests itself.
        if worst.id != "slow-query" and "requests_affected" not in worst.evidence:
            worst.evidence["requests_affected"] = len(group)
        merged.append(worst)
    return merged


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
    db, http, cache and python (the wall time no span covers); see :mod:`perfdoctor.timing`.

    Traces of a sampled run are weighted by the requests each stands for, and
    ``requests`` is what was seen (:mod:`perfdoctor.sampling`)."""
    stats = []
    for name, group in by_endpoint(traces).items():
        durations = [timing.latency_ms(t) for t in group]
        weights = [sampling.weight(t) for t in group]
        total = sum(weights)
        parts = [timing.breakdown(t) for t in group]
        queries = [sum(1 for s in t.spans if s.kind == "db") for t in group]

        def mean(
            bucket: str,
            parts: list[dict[str, float]] = parts,
            weights: list[float] = weights,
            total: float = total,
        ) -> float:
            return round(sum(p[bucket] * w for p, w in zip(parts, weights)) / total, 2)

        if total > len(group):
            p50, p95, p99 = (
                sampling.weighted_percentile(durations, weights, q) for q in (50, 95, 99)
            )
        else:
            p50, p95, p99 = (percentile(durations, q) for q in (50, 95, 99))
        seen = sampled.get(name) if sampled else None
        stats.append(
            EndpointStats(
                name=name,
                requests=seen.seen if seen is not None else len(group),
                p50_ms=round(p50, 2),
                p95_ms=round(p95, 2),
                p99_ms=round(p99, 2),
                queries_per_request=round(sum(q * w for q, w in zip(queries, weights)) / total, 2),
                db_ms=mean("db"),
                http_ms=mean("http"),
                cache_ms=mean("cache"),
                python_ms=mean("python"),
            )
        )
    stats.sort(key=lambda s: (-s.p95_ms, s.name))
    return stats


def _note_sampling(findings: list[Finding], sampled: dict[str, sampling.Sampled]) -> None:
    """A finding on a sampled endpoint says how many requests its count is out of."""
    for finding in findings:
        seen = sampled.get(finding.endpoint or "")
        affected = finding.evidence.get("requests_affected")
        if seen is not None and isinstance(affected, int):
            finding.evidence["sampled"] = sampling.estimate_line(affected, seen.seen)


def analyze(
    traces: Sequence[Trace],
    settings: Settings,
    sample_counts: dict[str, tuple[int, int]] | None = None,
) -> Analysis:
    """``sample_counts``: the store's sampling table (:func:`perfdoctor.store.sampling_counts`)."""
    detectors = all_detectors()
    found: list[Finding] = []
    for detector in detectors:
        found.extend(detector.analyze(traces, settings))
    findings = [_present(f) for f in merge(found)]
    findings.sort(key=lambda f: (-SEVERITY_RANK[f.severity], -impact_ms(f), f.id, f.endpoint or ""))
    # Here, once: every report format, --fail-on and the pytest plugin read these findings.
    findings, ignored = apply_ignores(findings, settings.ignore)
    sampled = sampling.summarise(traces, sample_counts) if sample_counts else {}
    _note_sampling(findings, sampled)
    return Analysis(
        findings=findings,
        suppressed=Suppressed(ignored=ignored),
        endpoints=endpoint_stats(traces, sampled),
        sampled=sampled,
        traces=len(traces),
        detectors=[d.id for d in detectors],
        hotspots=endpoint_hotspots(traces),
    )

"""One finding per fingerprint: the worst example, with how many requests showed it.

Merging is incremental (:class:`Merger`), so findings of a store read in chunks
are merged as they come: what is kept is one finding and one count per
fingerprint, whatever the number of traces.  Findings of several reports (the
shards of a fleet, ``perfdoctor merge``) merge by the same rules
(:class:`ShardMerger`): each already stands for ``requests_affected`` requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from perfdoctor.model import SEVERITY_RANK, Finding

# A per-request finding's times, averaged over the requests it was seen in when
# merged (the example kept is the worst request, often the first and cold one).
PER_REQUEST_MS = ("total_ms", "loop_ms", "wasted_ms")
# Counts that add up across shards, each shard having seen other requests: the
# requests a finding was seen in, a slow query's runs, and the requests a
# detector judging an endpoint looked at (slow-endpoint, missing-pagination,
# no-connection-reuse...).  Every other number, and the title, is the worst
# example's (a percentile of one shard does not add).
SUMMED = ("requests_affected", "runs", "requests", "requests_with_connect")


def _felt(numbers: dict[str, Any]) -> float:
    # An N+1 costs the request its whole loop (ORM and Python between the queries
    # included), not only the database time of its queries.
    felt = numbers.get("loop_ms", numbers.get("total_ms", 0.0))
    return float(numbers.get("wasted_ms", felt) or 0.0)


def impact_ms(finding: Finding) -> float:
    """What a finding costs, to rank by: wasted time over every request it was seen in."""
    evidence = finding.evidence
    if "runs" in evidence and "p50_ms" in evidence:
        return float(evidence["runs"]) * float(evidence["p50_ms"])
    mean = evidence.get("mean_ms")
    per_request = _felt(mean if isinstance(mean, dict) and mean else evidence)
    if "requests_affected" in evidence:
        return per_request * int(evidence["requests_affected"])
    return per_request


def _rank(finding: Finding) -> tuple[int, float]:
    return SEVERITY_RANK[finding.severity], impact_ms(finding)


def sort_key(finding: Finding) -> tuple[int, float, str, str]:
    """The reports' order: most severe first, then the costliest."""
    return (
        -SEVERITY_RANK[finding.severity],
        -impact_ms(finding),
        finding.id,
        finding.endpoint or "",
    )


class _Group:
    __slots__ = ("rank", "seen", "sums", "worst")

    def __init__(self, finding: Finding, requests: int = 1) -> None:
        self.worst = finding
        self.rank = _rank(finding)
        self.seen = requests
        # key -> [sum, requests with it], of PER_REQUEST_MS
        self.sums: dict[str, list[float]] = {}
        self.add_times(finding, requests)

    def add_times(self, finding: Finding, requests: int = 1) -> None:
        """``requests``: how many requests the finding stands for (a shard's merged
        finding: its ``mean_ms`` is their mean, weighted by them here)."""
        self.add_evidence(finding.evidence, requests)

    def add_evidence(self, evidence: dict[str, Any], requests: int = 1) -> None:
        means = evidence.get("mean_ms") if requests > 1 else None
        times = means if isinstance(means, dict) else evidence
        # Called once per finding of a per-request detector, whose times are floats:
        # no call for those, and no list made for a key already summed.
        sums = self.sums
        for key in PER_REQUEST_MS:
            value = times.get(key)
            if value is None:
                continue
            if type(value) is not float:
                value = _number(value)
                if value is None:
                    continue
            total = sums.get(key)
            if total is None:
                sums[key] = [0.0 + value * requests, requests]
            else:
                total[0] += value * requests
                total[1] += requests

    def means(self) -> dict[str, float]:
        return {key: round(total / count, 3) for key, (total, count) in self.sums.items()}


def _number(value: Any) -> float | None:
    """``value`` if it is a number (not a bool), else None."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class Merger:
    """Findings added one at a time, merged as :func:`merge` merges a list."""

    def __init__(self) -> None:
        self._groups: dict[str, _Group] = {}

    def add(self, finding: Finding) -> None:
        key = finding.fingerprint or str(id(finding))
        group = self._groups.get(key)
        if group is None:
            self._groups[key] = _Group(finding)
            return
        group.seen += 1
        group.add_times(finding)
        rank = _rank(finding)
        # The first of equally bad findings stays, as max() keeps it.
        if rank > group.rank:
            group.worst, group.rank = finding, rank

    def add_lazily(
        self,
        fingerprint: str,
        severity: str,
        numbers: dict[str, Any],
        build: Callable[[], Finding],
    ) -> None:
        """``add(build())``, building the finding only when it is the first or the
        worst of its fingerprint so far: a per-request detector finds the same
        problem in most requests of an endpoint, and one finding is kept.
        ``numbers``: the built finding's evidence values :func:`impact_ms` and the
        means read (its :data:`PER_REQUEST_MS`), with no ``mean_ms``,
        ``requests_affected`` or ``runs``."""
        group = self._groups.get(fingerprint)
        if group is None:
            self._groups[fingerprint] = _Group(build())
            return
        group.seen += 1
        group.add_evidence(numbers)
        rank = (SEVERITY_RANK[severity], _felt(numbers))
        if rank > group.rank:
            group.worst, group.rank = build(), rank

    def extend(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            self.add(finding)

    def findings(self) -> list[Finding]:
        merged = []
        for group in self._groups.values():
            worst = group.worst
            # A detector that looks across requests counts the requests itself.
            if worst.id != "slow-query" and "requests_affected" not in worst.evidence:
                worst.evidence["requests_affected"] = group.seen
                if group.seen > 1 and group.sums:
                    worst.evidence["mean_ms"] = group.means()
            merged.append(worst)
        return merged


class ShardMerger:
    """Findings of several reports merged by fingerprint: the worst example (the
    rule above, on each report's example request), the :data:`SUMMED` counts
    added, ``mean_ms`` the mean over every request, each report's weighted by its
    ``requests_affected``."""

    def __init__(self) -> None:
        self._groups: dict[str, _Group] = {}
        self._summed: dict[str, dict[str, float]] = {}

    def add(self, finding: Finding) -> None:
        evidence = finding.evidence
        count = _number(evidence.get("requests_affected"))
        requests = int(count) if count is not None and count >= 1 else 1
        key = finding.fingerprint or str(id(finding))
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(finding, requests)
            group.rank = _example_rank(finding)
            self._summed[key] = {
                k: evidence[k] for k in SUMMED if _number(evidence.get(k)) is not None
            }
            return
        group.seen += requests
        group.add_times(finding, requests)
        summed = self._summed[key]
        for name in SUMMED:
            value = _number(evidence.get(name))
            if value is not None:
                summed[name] = summed.get(name, 0) + value
        rank = _example_rank(finding)
        if rank > group.rank:
            group.worst, group.rank = finding, rank

    def findings(self) -> list[Finding]:
        merged = []
        for key, group in self._groups.items():
            evidence = {**group.worst.evidence, **self._summed[key]}
            # Only a finding that had a mean gets one: a detector judging many
            # requests together has no per-request times to average.
            if "mean_ms" in evidence and group.sums:
                evidence["mean_ms"] = group.means()
            merged.append(replace(group.worst, evidence=evidence))
        return sorted(merged, key=sort_key)


def _example_rank(finding: Finding) -> tuple[int, float]:
    """A report's finding ranked as its example request alone: as :class:`Merger`
    ranks one request's finding against another's."""
    alone = {k: v for k, v in finding.evidence.items() if k not in ("mean_ms", "requests_affected")}
    return _rank(replace(finding, evidence=alone))


def merge(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per fingerprint: the worst example, with how many requests showed it."""
    merger = Merger()
    merger.extend(findings)
    return merger.findings()

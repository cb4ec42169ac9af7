"""One finding per fingerprint: the worst example, with how many requests showed it.

Merging is incremental (:class:`Merger`), so findings of a store read in chunks
are merged as they come: what is kept is one finding and one count per
fingerprint, whatever the number of traces.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from perfdoctor.model import SEVERITY_RANK, Finding

# A per-request finding's times, averaged over the requests it was seen in when
# merged (the example kept is the worst request, often the first and cold one).
PER_REQUEST_MS = ("total_ms", "loop_ms", "wasted_ms")


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


class _Group:
    __slots__ = ("rank", "seen", "sums", "worst")

    def __init__(self, finding: Finding) -> None:
        self.worst = finding
        self.rank = _rank(finding)
        self.seen = 1
        # key -> [sum, findings with it], of PER_REQUEST_MS
        self.sums: dict[str, list[float]] = {}
        self.add_times(finding)

    def add_times(self, finding: Finding) -> None:
        evidence = finding.evidence
        for key in PER_REQUEST_MS:
            value = evidence.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                total = self.sums.setdefault(key, [0.0, 0])
                total[0] += value
                total[1] += 1


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
                    worst.evidence["mean_ms"] = {
                        key: round(total / count, 3) for key, (total, count) in group.sums.items()
                    }
            merged.append(worst)
        return merged


def merge(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per fingerprint: the worst example, with how many requests showed it."""
    merger = Merger()
    merger.extend(findings)
    return merger.findings()

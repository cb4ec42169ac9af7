"""One finding per fingerprint: the worst example, with how many requests showed it.

Merging is incremental (:class:`Merger`), so findings of a store read in chunks
are merged as they come: what is kept is one finding and one count per
fingerprint, whatever the number of traces.
"""

from __future__ import annotations

from collections.abc import Iterable

from perfdoctor.model import SEVERITY_RANK, Finding


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


def _rank(finding: Finding) -> tuple[int, float]:
    return SEVERITY_RANK[finding.severity], impact_ms(finding)


class _Group:
    __slots__ = ("rank", "seen", "worst")

    def __init__(self, finding: Finding) -> None:
        self.worst = finding
        self.rank = _rank(finding)
        self.seen = 1


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
            merged.append(worst)
        return merged


def merge(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per fingerprint: the worst example, with how many requests showed it."""
    merger = Merger()
    merger.extend(findings)
    return merger.findings()

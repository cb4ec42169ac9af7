"""What a request's live line says: method, route, status, time, queries, findings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from perfdoctor.analysis.timing import latency_ms
from perfdoctor.callsite import display_path
from perfdoctor.model import Finding, Trace


@dataclass(frozen=True)
class Mark:
    """One finding as the line shows it: ``N+1 ×20`` at ``blog/views.py:20``."""

    label: str
    site: str
    severity: str


@dataclass(frozen=True)
class RequestLine:
    method: str
    route: str
    status: int | None
    ms: float
    queries: int
    marks: tuple[Mark, ...]

    @property
    def key(self) -> tuple[object, ...]:
        """What makes two lines the same, their time apart."""
        return (self.method, self.route, self.status, self.queries, self.marks)

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.route}"


def _count(finding: Finding) -> object:
    return finding.evidence.get("count", "?")


def label(finding: Finding) -> str:
    kind = finding.id
    if kind == "n-plus-one-query":
        return f"N+1 ×{_count(finding)}"
    if kind == "duplicate-query":
        return f"duplicate ×{_count(finding)}"
    if kind == "n-plus-one-http":
        return f"N+1 HTTP ×{_count(finding)}"
    if kind == "sequential-http":
        return f"sequential HTTP ×{_count(finding)}"
    if kind == "slow-query":
        return f"slow query {float(finding.evidence.get('max_ms', 0.0)):.0f} ms"
    return kind


def mark(finding: Finding) -> Mark:
    where = finding.location
    site = f"{display_path(where.path)}:{where.line}" if where is not None else ""
    return Mark(label(finding), site, finding.severity)


def request_line(trace: Trace, findings: Sequence[Finding]) -> RequestLine:
    method, _, route = trace.name.partition(" ")
    if not route:  # a name without a method (a trace named by hand)
        method, route = "", trace.name
    return RequestLine(
        method=method,
        route=route,
        status=trace.status,
        ms=latency_ms(trace),
        queries=sum(1 for s in trace.spans if s.kind == "db"),
        marks=tuple(mark(f) for f in findings),
    )

"""n-plus-one-query: the same query shape repeated from one line, after a parent query."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from perfdoctor.analysis import sampling
from perfdoctor.analysis.merging import Merger
from perfdoctor.detectors import register
from perfdoctor.detectors._groups import SpanGroup, n_plus_one_groups, parent_span
from perfdoctor.detectors._n_plus_one_site import site
from perfdoctor.detectors._n_plus_one_together import combine
from perfdoctor.detectors._sequence import SequenceGroup, link, n_plus_one_sequences
from perfdoctor.detectors.base import PerTraceDetector, Session
from perfdoctor.model import Finding, Location, Severity, Span, Trace
from perfdoctor.orm.fix import Fix
from perfdoctor.settings import Settings


@dataclass
class _Case:
    """One repeated query of a request: what its finding is made of, before it is made."""

    group: SpanGroup
    parent: Span | None
    loop: Location | None
    fix: Fix
    location: Location | None
    where: dict[str, Any]
    severity: Severity
    fingerprint: str


@register
class NPlusOneQuery(PerTraceDetector):
    id = "n-plus-one-query"
    description = "the same query shape repeated in one request from one call site"

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        groups = n_plus_one_groups(trace, settings)
        cases = self.cases(trace, groups, settings)
        found = {id(case.group): self.finding(trace, case) for case in cases}
        for sequence in n_plus_one_sequences(groups):
            link(trace, sequence, [found[id(g)] for g in sequence.groups])
        findings = list(found.values())
        combine(findings)
        yield from findings

    def session(self, settings: Settings) -> Session:
        return _Session(self, settings)

    def findings(
        self, trace: Trace, groups: list[SpanGroup], settings: Settings
    ) -> Iterable[Finding]:
        """One finding per repeated query, in the order of ``groups``."""
        for case in self.cases(trace, groups, settings):
            yield self.finding(trace, case)

    def cases(self, trace: Trace, groups: list[SpanGroup], settings: Settings) -> list[_Case]:
        """Where each repeated query's finding points, its severity and fingerprint."""
        cases = []
        for group in groups:
            first = group.first
            parent = parent_span(trace, first, group.count)
            # The same in every request that runs this loop: worked out once.
            loop, fix, location, where, fingerprint = site(self.id, trace, first, parent)
            severity: Severity = (
                "error" if group.count >= settings.n_plus_one_error_repeats else "warning"
            )
            cases.append(_Case(group, parent, loop, fix, location, where, severity, fingerprint))
        return cases

    def finding(self, trace: Trace, case: _Case) -> Finding:
        group, first, fix, parent, loop = (
            case.group,
            case.group.first,
            case.fix,
            case.parent,
            case.loop,
        )
        count = group.count
        return Finding(
            id=self.id,
            severity=case.severity,
            title=f"N+1 queries: {count} queries load {fix.what} one row at a time",
            endpoint=trace.name,
            location=case.location,
            evidence={
                "count": count,
                "total_ms": round(group.total_ms, 3),
                "loop_ms": round(group.loop_ms, 3),
                "statement": first.statement,
                "parent_statement": parent.statement if parent else None,
                "loop": loop.to_dict() if loop else None,
                "framework": first.framework,
                "system": first.system,
                "orm_fix": fix.machine,
                # Model.attribute of the relation named: what ignore rules match.
                "relation": ", ".join(fix.relations) or None,
                # Each finding's own copy: the site's answers are shared by requests.
                **{k: dict(v) if isinstance(v, dict) else v for k, v in case.where.items()},
            },
            fix=fix.text,
            fingerprint=case.fingerprint,
        )


class _Session(Session):
    """The findings :meth:`NPlusOneQuery.visit` gives, merged as they come, each
    built only when it is the first or the worst of its fingerprint: most
    requests of an endpoint repeat the same loop, and one finding is kept."""

    def __init__(self, detector: NPlusOneQuery, settings: Settings) -> None:
        self.detector, self.settings = detector, settings
        self.merged = Merger()
        # Requests per endpoint, those without an N+1 too; and per fingerprint, the
        # requests it was seen in.  Each request counts for those its trace stands
        # for in a sampled store: a loop only the slow requests run (a cold cache)
        # is in every slow one kept and a share of the others, and among the kept
        # traces alone it would not read as seldom.
        self.requests: dict[str, float] = {}
        self.affected: dict[str, float] = {}
        self.sampled = False

    def feed(self, traces: Sequence[Trace]) -> None:
        detector, settings, merged = self.detector, self.settings, self.merged
        requests, affected = self.requests, self.affected
        for trace in traces:
            weight = sampling.weight(trace)
            if weight != 1.0:
                self.sampled = True
            requests[trace.name] = requests.get(trace.name, 0) + weight
            groups = n_plus_one_groups(trace, settings)
            if not groups:
                continue
            cases = detector.cases(trace, groups, settings)
            for case in cases:
                affected[case.fingerprint] = affected.get(case.fingerprint, 0.0) + weight
            # A query in a sequence (MN+1) costs the request the whole loop.
            looped: dict[int, tuple[SequenceGroup, float]] = {}
            for sequence in n_plus_one_sequences(groups):
                loop_ms = round(sequence.loop_ms, 3)
                for group in sequence.groups:
                    looped[id(group)] = (sequence, loop_ms)
            for case in cases:
                group = case.group
                member = looped.get(id(group))
                numbers = {
                    "total_ms": round(group.total_ms, 3),
                    "loop_ms": member[1] if member else round(group.loop_ms, 3),
                }
                linked = member[0] if member else None
                build = partial(self._built, trace, cases, case, linked)
                merged.add_lazily(case.fingerprint, case.severity, numbers, build)

    def _built(
        self, trace: Trace, cases: list[_Case], case: _Case, sequence: SequenceGroup | None
    ) -> Finding:
        detector = self.detector
        finding = detector.finding(trace, case)
        if sequence is not None:
            # Linked as visit links it: every member's finding is needed for the steps.
            by_group = {id(c.group): c for c in cases}
            members = [
                finding if g is case.group else detector.finding(trace, by_group[id(g)])
                for g in sequence.groups
            ]
            link(trace, sequence, members)
        finding.trace_id = trace.id
        return finding

    def findings(self) -> list[Finding]:
        findings = self.merged.findings()
        combine(findings)
        for finding in findings:
            requests = self.requests.get(finding.endpoint or "", 0)
            if self.sampled:
                weighted = self.affected.get(finding.fingerprint or "")
                if weighted is not None:
                    _seldom(finding, requests, self.settings, weighted)
                continue
            _seldom(finding, requests, self.settings)
        return findings


_LESS: dict[str, Severity] = {"error": "warning", "warning": "info", "info": "info"}


def _seldom(
    finding: Finding, requests: float, settings: Settings, estimated: float | None = None
) -> None:
    """A step less severe, and saying so, when few of the endpoint's requests ran it.
    ``estimated``: in a sampled store, the requests it was seen in, each kept trace
    counted for those it stands for (``requests`` likewise)."""
    affected: Any = finding.evidence.get("requests_affected") if estimated is None else estimated
    if not isinstance(affected, (int, float)) or requests < settings.n_plus_one_seldom_min_requests:
        return
    if affected >= settings.n_plus_one_seldom_share * requests:
        return
    about = "~" if estimated is not None else ""
    finding.severity = _LESS[finding.severity]
    finding.evidence["seldom"] = (
        f"in {about}{round(affected)} of the endpoint's {about}{round(requests)} requests: "
        "the others ran without it "
        "(a cache in front of the rows, or data few requests have). Measure the fix "
        "where it happens: an eager load costs every request."
    )

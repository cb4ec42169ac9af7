"""n-plus-one-query: the same query shape repeated from one line, after a parent query."""

from __future__ import annotations

from collections.abc import Iterable

from perfdoctor.detectors import register
from perfdoctor.detectors._feeder import (
    feeding_site,
    loop_frames,
    root_resolver_site,
    serializer_method,
)
from perfdoctor.detectors._groups import SpanGroup, n_plus_one_groups, parent_span
from perfdoctor.detectors._loops import loop_for_stack
from perfdoctor.detectors._sequence import link, n_plus_one_sequences
from perfdoctor.detectors.base import PerTraceDetector, finding_fingerprint
from perfdoctor.model import Finding, Severity, Trace
from perfdoctor.orm.fix import fix_for
from perfdoctor.settings import Settings


@register
class NPlusOneQuery(PerTraceDetector):
    id = "n-plus-one-query"
    description = "the same query shape repeated in one request from one call site"

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        groups = n_plus_one_groups(trace, settings)
        found = dict(zip(map(id, groups), self.findings(trace, groups, settings)))
        for sequence in n_plus_one_sequences(groups):
            link(trace, sequence, [found[id(g)] for g in sequence.groups])
        yield from found.values()

    def findings(
        self, trace: Trace, groups: list[SpanGroup], settings: Settings
    ) -> Iterable[Finding]:
        """One finding per repeated query, in the order of ``groups``."""
        for group in groups:
            first = group.first
            parent = parent_span(trace, first, group.count)
            loop = loop_for_stack(loop_frames(first))
            # The relation named from the app's own models (trace.orm), never from a table name.
            fix = fix_for(
                trace,
                first,
                parent,
                library_loop=loop is None,
                root=root_resolver_site(first.attrs.get("trigger")),
            )
            # A loop in a library (a serializer, a template): the user's line feeding it.
            location, where = feeding_site(trace, first, loop)
            if fix.machine and fix.machine.get("kind") == "membership":
                # The check changes, not the queryset feeding the loop: in a DRF
                # serializer its get_<field> method (where the per-request set is
                # read), else the check's own line (is_following).
                method = serializer_method(where.get("trigger"), first.stack)
                location = method or first.location or location
            count = group.count
            severity: Severity = (
                "error" if count >= settings.n_plus_one_error_repeats else "warning"
            )
            yield Finding(
                id=self.id,
                severity=severity,
                title=f"N+1 queries: {count} queries load {fix.what} one row at a time",
                endpoint=trace.name,
                location=location,
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
                    **where,
                },
                fix=fix.text,
                fingerprint=finding_fingerprint(
                    self.id, trace.name, first.fingerprint, location
                ),
            )

"""Grouping of db spans shared by the query detectors."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from perfdoctor.detectors._sql import is_read
from perfdoctor.model import Location, Span, Trace
from perfdoctor.settings import Settings


@dataclass
class SpanGroup:
    key: tuple[object, ...]
    spans: list[Span] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.spans)

    @property
    def total_ms(self) -> float:
        return sum(s.duration_ms for s in self.spans)

    @property
    def first(self) -> Span:
        return self.spans[0]


def same_site_groups(trace: Trace) -> list[SpanGroup]:
    """Read queries grouped by (query shape, call site), in order of first appearance."""
    groups: dict[tuple[object, ...], SpanGroup] = {}
    for span in trace.spans:
        if span.kind != "db" or not is_read(span.statement):
            continue
        loc = span.location
        key = (span.fingerprint, loc.path if loc else None, loc.line if loc else None)
        groups.setdefault(key, SpanGroup(key)).spans.append(span)
    return list(groups.values())


def n_plus_one_groups(trace: Trace, settings: Settings) -> list[SpanGroup]:
    """Groups that qualify as N+1: many runs of one shape from one line, varying parameters."""
    found = []
    for group in same_site_groups(trace):
        if group.count < settings.n_plus_one_min_repeats:
            continue
        if group.total_ms < settings.n_plus_one_min_total_ms:
            continue
        digests = {s.params_digest for s in group.spans}
        if len(digests) < 2:
            continue  # the very same query every time is a duplicate, not an N+1
        found.append(group)
    return found


def parent_span(trace: Trace, child: Span) -> Span | None:
    """The query that fetched the rows the loop walks: the last read before it that is
    not itself repeated (a second N+1 in the same loop is a sibling, not the parent)."""
    shapes: dict[str | None, int] = defaultdict(int)
    for span in trace.spans:
        if span.kind == "db":
            shapes[span.fingerprint] += 1
    before: Span | None = None
    fallback: Span | None = None
    for span in trace.spans:
        if span is child:
            return before or fallback
        if span.kind == "db" and span.fingerprint != child.fingerprint and is_read(span.statement):
            fallback = span
            if shapes[span.fingerprint] == 1:
                before = span
    return before or fallback


def most_common_location(spans: list[Span]) -> Location | None:
    counts: dict[Location, int] = defaultdict(int)
    for span in spans:
        if span.location is not None:
            counts[span.location] += 1
    if not counts:
        return None
    return max(counts.items(), key=lambda item: item[1])[0]

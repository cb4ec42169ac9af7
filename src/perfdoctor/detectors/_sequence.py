"""MN+1: a repeated sequence of different queries per row.

For each article: SELECT its author, then its tags, then a COUNT of its comments,
each from another line.  Sentry reports the sequence as one problem.  Here each
query keeps its own finding, linked to the others: every query has its own
line and its own fix (``select_related("author")``, ``prefetch_related("tags")``,
an annotated count), which one merged card would have to list or blur, while
the link says they are one loop: each member's evidence holds the whole
sequence (every query's statement, call site and runs), the rows it looped
over, and the loop's wall time for all of them, which is also what it costs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from perfdoctor.detectors._groups import SpanGroup
from perfdoctor.detectors.base import finding_fingerprint
from perfdoctor.model import Finding, Span, Trace


@dataclass
class SequenceGroup:
    """N+1 groups whose queries run in one fixed order, once each per row."""

    groups: list[SpanGroup]
    repeats: int

    @property
    def spans(self) -> list[Span]:
        return [s for g in self.groups for s in g.spans]

    @property
    def total_ms(self) -> float:
        return sum(g.total_ms for g in self.groups)

    @property
    def loop_ms(self) -> float:
        bounds = [g.bounds for g in self.groups]
        return max(end for _, end in bounds) - min(start for start, _ in bounds)


def n_plus_one_sequences(groups: list[SpanGroup]) -> list[SequenceGroup]:
    """Sequences among N+1 groups of one request (``key[0]``, see ``loop_groups``):
    the groups' runs, in time order, are one pattern of two or more of them
    repeated, and each group's every run is in it."""
    by_request: dict[object, list[SpanGroup]] = {}
    for group in groups:
        by_request.setdefault(group.key[0], []).append(group)
    found = []
    for members in by_request.values():
        if len(members) >= 2:
            found.extend(_sequences(members))
    return found


def _sequences(groups: list[SpanGroup]) -> list[SequenceGroup]:
    taking_turns = _taking_turns(groups)
    if taking_turns is not None:
        return [taking_turns]
    runs = sorted((s.start_ms, i) for i, g in enumerate(groups) for s in g.spans)
    order = [i for _, i in runs]
    found = []
    at = 0
    while at < len(order):
        pattern = _pattern_at(order, at)
        if pattern is None:
            at += 1
            continue
        size = len(pattern)
        if order[at + size :] == order[at : len(order) - size]:
            # The rest repeats the pattern to the end (a loop's usual shape): as
            # many whole repeats as fit, without a slice compared per repeat.
            repeats = (len(order) - at) // size
        else:
            repeats = 0
            while order[at + repeats * size : at + (repeats + 1) * size] == pattern:
                repeats += 1
        if repeats >= 2 and all(groups[i].count == repeats for i in pattern):
            found.append(SequenceGroup([groups[i] for i in pattern], repeats))
            at += repeats * len(pattern)
        else:
            at += 1
    return found


def _taking_turns(groups: list[SpanGroup]) -> SequenceGroup | None:
    """The one sequence of ``groups`` when their runs take turns in a fixed order
    from first to last (a loop's usual shape), found without sorting every run:
    what :func:`_sequences` finds then.  None: they do not (or a time is NaN),
    and the runs are sorted."""
    count = len(groups[0].spans)
    if count < 2 or any(len(g.spans) != count for g in groups):
        return None
    # The order of the first runs, as sorting (start, index) pairs orders them.
    order = sorted(range(len(groups)), key=lambda i: (groups[i].spans[0].start_ms, i))
    turns = [(i, groups[i].spans) for i in order]
    last_start, last_index = -math.inf, -1
    for row in range(count):
        for index, spans in turns:
            start = spans[row].start_ms
            # (start, index) after the previous pair, as the sorted pairs would be.
            if not (start > last_start or (start == last_start and index > last_index)):
                return None
            last_start, last_index = start, index
    return SequenceGroup([groups[i] for i in order], count)


def _pattern_at(order: list[int], at: int) -> list[int] | None:
    """The distinct groups from ``at`` up to the first that comes round again."""
    seen: list[int] = []
    for index in order[at:]:
        if index in seen:
            return seen if index == seen[0] and len(seen) >= 2 else None
        seen.append(index)
    return None


def link(trace: Trace, sequence: SequenceGroup, members: list[Finding]) -> None:
    """Mark each member's finding (in sequence order) as one query of the sequence."""
    steps: list[dict[str, Any]] = []
    for group, member in zip(sequence.groups, members):
        loc = member.location
        steps.append(
            {
                "statement": member.evidence.get("statement"),
                "path": loc.path if loc else None,
                "line": loc.line if loc else None,
                "count": group.count,
                "total_ms": round(group.total_ms, 3),
            }
        )
    sequence_id = finding_fingerprint("sequence", trace.name, *(m.fingerprint for m in members))[
        :12
    ]
    loop_ms = round(sequence.loop_ms, 3)
    for position, member in enumerate(members, start=1):
        member.evidence["loop_ms"] = loop_ms
        member.evidence["sequence"] = {
            "id": sequence_id,
            "position": position,
            "repeats": sequence.repeats,
            "total_ms": round(sequence.total_ms, 3),
            "steps": [dict(step) for step in steps],  # each finding's own copy
        }

"""duplicate-query: the identical statement with identical parameters, twice in one request."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from perfdoctor.analysis.merging import Merger
from perfdoctor.analysis.shapes import shapes
from perfdoctor.detectors import register
from perfdoctor.detectors._groups import n_plus_one_groups
from perfdoctor.detectors._kinds import reads
from perfdoctor.detectors._sites import shown_path
from perfdoctor.detectors._sql import is_read
from perfdoctor.detectors.base import PerTraceDetector, Session, finding_fingerprint
from perfdoctor.model import Finding, Location, Span, Trace
from perfdoctor.settings import Settings


def sites(spans: list[Span]) -> list[Location | None]:
    """Each span's call site: its frame at the first depth where the copies' stacks
    part (two calls of one helper differ in the caller's line, not the helper's)."""
    stacks = [s.stack or ([s.location] if s.location else []) for s in spans]
    depth = 0
    deepest = max((len(stack) for stack in stacks), default=0)
    while depth < deepest - 1:
        if len({stack[depth] if depth < len(stack) else None for stack in stacks}) > 1:
            break
        depth += 1
    return [stack[min(depth, len(stack) - 1)] if stack else None for stack in stacks]


def site_counts(spans: list[Span], where: list[Location | None]) -> list[dict[str, Any]]:
    """Every site with its runs, in the order they first ran; the first run is the one
    that has to happen."""
    counted: dict[Location | None, dict[str, Any]] = {}
    for location in where:
        entry = counted.get(location)
        if entry is None:
            entry = counted[location] = {"count": 0}
            if location is not None:
                entry.update(
                    path=shown_path(location.path),
                    line=location.line,
                    function=location.function,
                )
        entry["count"] += 1
    return list(counted.values())


def remedy(count: int, sites: int, per_row: int) -> str:
    if sites == 1 and count >= per_row:
        # One line asking the same thing again and again: a loop, a serializer field
        # or a property per row (on a real app, Article.favorited per article).
        return (
            f"One line asks the same query {count} times with the same parameters: its "
            "answer does not depend on the row being processed. First check that is meant: "
            "if the answer should differ per row, the query is missing the row's key and "
            "every row gets the same (wrong) answer. If it is meant, compute it once before "
            "the loop, or once per request (flask.g, a cached_property on the view or "
            "request), and reuse the value."
        )
    return (
        "Run it once and reuse the result: keep the row in a local variable or pass "
        "it to the helpers that need it (in Django, reuse the object or the queryset's "
        "cache; in SQLAlchemy, session.get() answers from the identity map)."
    )


def _same_reads(
    spans: list[Span], leave_out: set[int] | None
) -> dict[tuple[str | None, str | None], list[Span]]:
    """Reads with parameters by (shape, parameters), in order of first appearance,
    without the spans whose ids are in ``leave_out``."""
    groups: dict[tuple[str | None, str | None], list[Span]] = {}
    for span in spans:
        digest = span.params_digest
        if digest is None or (leave_out is not None and id(span) in leave_out):
            continue
        key = (span.fingerprint, digest)
        same = groups.get(key)
        if same is None:
            groups[key] = [span]
        else:
            same.append(span)
    return groups


def _repeats(trace: Trace, looped: set[int]) -> bool:
    """Whether a read ran twice with the same parameters: looked for a shape at
    a time, each shape's digests put in a set (in C), not span by span.  The
    shapes whose list's id is in ``looped`` (an N+1 group that is the shape's
    runs as they are) are left out: their spans are never a copy."""
    seen: dict[str | None, set[str | None]] = {}
    for runs in shapes(trace):
        first = runs[0]
        if first.kind != "db" or not is_read(first.statement) or id(runs) in looped:
            continue
        digests = [span.params_digest for span in runs]
        distinct = set(digests)
        distinct.discard(None)  # a read without parameters is never a copy
        if len(distinct) < len(digests) - digests.count(None):
            return True
        earlier = seen.get(first.fingerprint)
        if earlier is None:
            seen[first.fingerprint] = distinct
        elif not earlier.isdisjoint(distinct):
            return True  # the same query from another shape (another line or connection)
        else:
            earlier |= distinct
    return False


@register
class DuplicateQuery(PerTraceDetector):
    id = "duplicate-query"
    description = "identical statement and parameters run more than once in one request"

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        for fingerprint, spans in self.repeated(trace, settings):
            yield self.finding(trace, fingerprint, spans, sites(spans), settings)

    def session(self, settings: Settings) -> Session:
        return _Session(self, settings)

    def repeated(self, trace: Trace, settings: Settings) -> list[tuple[str | None, list[Span]]]:
        """Each read ``trace`` ran at least ``duplicate_min_count`` times with the same
        parameters, outside its N+1 loops: (the query's fingerprint, its runs)."""
        least = settings.duplicate_min_count
        if least >= 2:
            # A loop's queries (an N+1) repeat their parameters often (the same author
            # for two articles) and are left out below: a loop that is one shape's runs
            # is left out of the screen too.
            looped = {id(group.spans) for group in n_plus_one_groups(trace, settings)}
            if not _repeats(trace, looped):
                return []  # most requests run no read twice with the same parameters
        groups = _same_reads(reads(trace), None)
        if max(map(len, groups.values()), default=0) < least:
            return []  # what the N+1 groups take out cannot make a group larger
        # Spans already reported as an N+1 are not reported twice: grouped again
        # without them (rarely needed: most requests repeat nothing).
        in_n_plus_one = {id(s) for g in n_plus_one_groups(trace, settings) for s in g.spans}
        if in_n_plus_one:
            groups = _same_reads(reads(trace), in_n_plus_one)
        return [
            (fingerprint, spans)
            for (fingerprint, _), spans in groups.items()
            if len(spans) >= least
        ]

    def finding(
        self,
        trace: Trace,
        fingerprint: str | None,
        spans: list[Span],
        where: list[Location | None],
        settings: Settings,
    ) -> Finding:
        """The finding of one read repeated (``where``: :func:`sites` of its runs)."""
        total = sum(s.duration_ms for s in spans)
        wasted = total - spans[0].duration_ms
        # The first run is unavoidable; the second is the copy to remove.
        location = where[1]
        listed = site_counts(spans, where)
        return Finding(
            id=self.id,
            severity="warning",
            title=(
                f"Duplicate query: the same query with the same parameters ran {len(spans)} times"
            ),
            endpoint=trace.name,
            location=location,
            evidence={
                "count": len(spans),
                "total_ms": round(total, 3),
                "wasted_ms": round(wasted, 3),
                "statement": spans[0].statement,
                "first": listed[0] if where[0] is not None else None,
                "sites": listed,
                "call_sites": [f"{s['path']}:{s['line']}" for s in listed if "path" in s],
            },
            fix=remedy(len(spans), len(listed), settings.duplicate_per_row_count),
            fingerprint=finding_fingerprint(self.id, trace.name, fingerprint, location),
        )


class _Session(Session):
    """The findings :meth:`DuplicateQuery.visit` gives, merged as they come, each
    built only when it is the first or the worst of its fingerprint: a read
    repeated in one request is most often repeated in every request of its
    endpoint, and one finding is kept."""

    def __init__(self, detector: DuplicateQuery, settings: Settings) -> None:
        self.detector, self.settings = detector, settings
        self.merged = Merger()

    def feed(self, traces: Sequence[Trace]) -> None:
        detector, settings, add = self.detector, self.settings, self.merged.add_lazily
        key = detector.id
        for trace in traces:
            for fingerprint, spans in detector.repeated(trace, settings):
                where = sites(spans)
                total = sum(s.duration_ms for s in spans)
                # What the finding's evidence says of its times (Merger ranks and
                # averages on them), worked out as finding() works them out.
                numbers = {
                    "total_ms": round(total, 3),
                    "wasted_ms": round(total - spans[0].duration_ms, 3),
                }
                merged_as = finding_fingerprint(key, trace.name, fingerprint, where[1])
                build = partial(self._built, trace, fingerprint, spans, where)
                add(merged_as, "warning", numbers, build)

    def _built(
        self, trace: Trace, fingerprint: str | None, spans: list[Span], where: list[Location | None]
    ) -> Finding:
        finding = self.detector.finding(trace, fingerprint, spans, where, self.settings)
        finding.trace_id = trace.id
        return finding

    def findings(self) -> list[Finding]:
        return self.merged.findings()

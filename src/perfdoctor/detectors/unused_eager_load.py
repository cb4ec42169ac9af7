"""unused-eager-load: a relation loaded with its rows that nothing read.

Capture (``capture/django_eager.py``, ``capture/sqlalchemy_eager.py``) leaves one
``orm.eager`` span per ``select_related``/``prefetch_related`` lookup of an
evaluated queryset, and per first-level ``joinedload``/``selectinload``/
``subqueryload`` option of an executed ORM select, with ``used`` set when the
request read the relation (on any row).  Loads are grouped by endpoint, call
site and the option as written; a group is reported only when no request of
the endpoint read it: a load read on one row, or in one request out of many
(``?include=author``), is in use.

The cost shown is what can be measured: the prefetch's or relationship
loader's own queries (``extra_query_ms``).  A JOIN's share of the query that
carries it cannot be told apart, so a ``select_related``/``joinedload`` shows
that query's time (``query_ms``) instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from perfdoctor import callsite
from perfdoctor.detectors import register
from perfdoctor.detectors._responses import handler
from perfdoctor.detectors.base import Detector, finding_fingerprint
from perfdoctor.model import Finding, Location, Severity, Span, Trace
from perfdoctor.settings import Settings

KIND = "orm.eager"
QUERY_KIND = "orm.eager.query"


@dataclass
class _Load:
    """One eager load of one request, with what the trace shows of its cost."""

    trace: Trace
    span: Span
    rows: int | None
    query_ms: float | None = None
    extra_ms: float | None = None
    extra_queries: int = 0
    # The query to look at: the extra one, or the one carrying the JOIN.
    statement: str | None = None


@dataclass
class _Group:
    loads: list[_Load] = field(default_factory=list)
    used: bool = False


def _measure(trace: Trace, index: int, span: Span) -> _Load:
    spans = trace.spans
    attrs = span.attrs
    load = _Load(trace, span, attrs.get("rows"))
    if attrs.get("orm") == "django":
        if attrs.get("cost") == "query":
            # The prefetch's queries ran inside the span.
            inside = [
                s
                for s in spans
                if s.kind == "db" and span.start_ms <= s.start_ms and s.end_ms <= span.end_ms
            ]
            load.extra_queries = len(inside)
            load.extra_ms = sum(s.duration_ms for s in inside)
            load.statement = inside[0].statement if inside else None
        else:
            carrying = [
                s
                for s in spans
                if s.kind == "db" and span.start_ms <= s.start_ms and s.end_ms <= span.end_ms
            ]
            if carrying:
                load.query_ms = carrying[0].duration_ms
                load.statement = carrying[0].statement
        return load
    # SQLAlchemy: the statement is the first query after the span; a relationship
    # loader's own query names the relation in its attributes.
    later = spans[index + 1 :]
    statement = next((s for s in later if s.kind == "db"), None)
    if statement is not None:
        load.rows = statement.rows
        load.query_ms = statement.duration_ms
        load.statement = statement.statement
    if attrs.get("cost") == "query":
        load.extra_ms = 0.0
        relation = attrs.get("relation")
        for position, marker in enumerate(later):
            if marker.kind == KIND and marker.attrs.get("relation") == relation:
                break  # the next load of the same relation owns what follows
            if marker.attrs.get("relation") != relation:
                continue
            if marker.kind == "db":
                query: Span | None = marker  # the loader's query, named on its own span
            elif marker.kind == QUERY_KIND:
                # Traces captured before the relation rode on the db span: a marker
                # span, the loader's query the db span after it.
                query = next((s for s in later[position + 1 :] if s.kind == "db"), None)
            else:
                continue
            if query is not None:
                load.extra_queries += 1
                load.extra_ms += query.duration_ms
                if load.extra_queries == 1:
                    load.statement = query.statement
    return load


def _key(trace: Trace, span: Span) -> tuple[Any, ...]:
    location = span.location
    return (
        trace.name,
        span.attrs.get("orm"),
        span.attrs.get("written"),
        (location.path, location.line) if location else None,
    )


def remedy(attrs: dict[str, Any]) -> str:
    written = str(attrs.get("written"))
    relation = str(attrs.get("relation"))
    method = attrs.get("method")
    if attrs.get("orm") == "django":
        call = "select_related" if method == "select_related" else "prefetch_related"
        what = f'"{relation}"' if not written.startswith("Prefetch(") else written
        cost = "a JOIN and its columns" if method == "select_related" else "an extra query"
        nested = [str(p) for p in attrs.get("nested") or ()]
        if nested:
            # The deeper paths join through it: removing it alone changes nothing.
            what += " and " + ", ".join(f'"{p}"' for p in nested)
            cost = "JOINs and their columns"
        return (
            f"Remove {what} from {call}(...): no row's .{relation.split('__')[0]} is read, so "
            f"{written} only adds {cost}. If another caller of this queryset needs it, "
            "add it there."
        )
    cost = "a JOIN and its columns" if method == "joinedload" else "an extra query"
    return (
        f"Remove {written} from the statement's .options(...): {relation} is never read, "
        f"so it only adds {cost}. Keep it where the relationship is read."
    )


def _finding(loads: list[_Load], settings: Settings) -> Finding:
    example = max(loads, key=lambda load: load.rows or 0)
    span = example.span
    attrs = span.attrs
    rows = example.rows
    evidence: dict[str, Any] = {
        "relation": attrs.get("relation"),
        "written": attrs.get("written"),
        "method": attrs.get("method"),
        "model": attrs.get("model"),
        "rows": rows,
        "requests_affected": len({id(load.trace) for load in loads}),
        "framework": attrs.get("orm"),
    }
    if attrs.get("related_rows") is not None:
        evidence["related_rows"] = attrs["related_rows"]
    extra = [load.extra_ms for load in loads if load.extra_ms is not None]
    if extra:
        evidence["extra_queries"] = example.extra_queries
        evidence["extra_query_ms"] = round(sum(extra) / len(extra), 3)
        # What the load wastes per request, for ranking.
        evidence["wasted_ms"] = evidence["extra_query_ms"]
    query = [load.query_ms for load in loads if load.query_ms is not None]
    if query:
        evidence["query_ms"] = round(sum(query) / len(query), 3)
    if example.statement:
        evidence["statement"] = example.statement
    severity: Severity = (
        "warning" if (rows or 0) >= settings.unused_eager_load_warning_rows else "info"
    )
    # No frame of the user's code when the queryset was evaluated (a DRF view's
    # `queryset =`, evaluated inside the library): the view that answered, if the
    # user wrote it (not DRF's own ListAPIView.get).
    location: Location | None = span.location
    if location is None:
        view = handler([load.trace for load in loads])
        location = view if view and callsite.classify(view.path) == callsite.USER else None
    row_text = "1 row" if rows == 1 else f"{rows} rows" if rows else "its rows"
    return Finding(
        id=UnusedEagerLoad.id,
        severity=severity,
        title=f"Unused eager load: {attrs.get('written')} loaded for {row_text}, never read",
        endpoint=example.trace.name,
        location=location,
        evidence=evidence,
        fix=remedy(attrs),
        fingerprint=finding_fingerprint(
            UnusedEagerLoad.id,
            example.trace.name,
            attrs.get("written"),
            location,
        ),
        trace_id=example.trace.id,
    )


@register
class UnusedEagerLoad(Detector):
    id = "unused-eager-load"
    description = "a select_related/prefetch_related/joinedload/selectinload nothing reads"
    reads = frozenset({KIND})
    # _measure reads the spans after the load: the trace is kept whole.
    slim = False

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        groups: dict[tuple[Any, ...], _Group] = {}
        for trace in traces:
            for index, span in enumerate(trace.spans):
                if span.kind != KIND:
                    continue
                group = groups.setdefault(_key(trace, span), _Group())
                if span.attrs.get("used"):
                    group.used = True
                else:
                    group.loads.append(_measure(trace, index, span))
        found = []
        for group in groups.values():
            if group.used or not group.loads:
                continue
            counts = [load.rows for load in group.loads if load.rows is not None]
            # A count unknown (a driver that does not report rows) is not a reason to stay quiet.
            if counts and max(counts) < settings.unused_eager_load_min_rows:
                continue
            found.append(_finding(group.loads, settings))
        return found

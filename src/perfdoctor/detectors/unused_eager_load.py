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
from dataclasses import dataclass
from typing import Any

from perfdoctor import callsite
from perfdoctor.detectors import register
from perfdoctor.detectors._kinds import of_kind
from perfdoctor.detectors._responses import handler
from perfdoctor.detectors.base import Session, Summarising, finding_fingerprint
from perfdoctor.model import Finding, Location, Severity, Span, Trace
from perfdoctor.settings import Settings

KIND = "orm.eager"
QUERY_KIND = "orm.eager.query"


@dataclass
class _Load:
    """One eager load of one request, with what the trace shows of its cost."""

    rows: int | None
    query_ms: float | None = None
    extra_ms: float | None = None
    extra_queries: int = 0
    # The query to look at: the extra one, or the one carrying the JOIN.
    statement: str | None = None


@dataclass
class _Example:
    """What a finding shows of the load it names (the one with the most rows)."""

    load: _Load
    attrs: dict[str, Any]
    location: Location | None
    endpoint: str
    trace_id: str


@dataclass
class _Group:
    """One load (endpoint, call site, option as written) so far: whether any
    request read it, and, while none has, what its finding needs (sums and
    counts, one example), not the requests."""

    used: bool = False
    # None until a load is added.
    example: _Example | None = None
    most_rows: int | None = None
    requests: int = 0
    last: int = -1
    extra_ms: float = 0.0
    extra_count: int = 0
    query_ms: float = 0.0
    query_count: int = 0
    # The view that answered, from the first request that says.
    handler: Location | None = None

    def add(self, trace: Trace, number: int, span: Span, load: _Load) -> None:
        """``load`` of ``span``, in the session's ``number``th trace."""
        if self.last != number:  # a trace's loads come one after another
            self.last = number
            self.requests += 1
        # The first load of the most rows, as max() picks it.
        if self.example is None or (load.rows or 0) > (self.example.load.rows or 0):
            self.example = _Example(load, span.attrs, span.location, trace.name, trace.id)
        if load.extra_ms is not None:
            self.extra_ms += load.extra_ms
            self.extra_count += 1
        if load.query_ms is not None:
            self.query_ms += load.query_ms
            self.query_count += 1
        if self.handler is None:
            self.handler = handler([trace])
        if load.rows is not None:
            self.most_rows = load.rows if self.most_rows is None else max(self.most_rows, load.rows)


def _measure(trace: Trace, index: int, span: Span) -> _Load:
    spans = trace.spans
    attrs = span.attrs
    load = _Load(attrs.get("rows"))
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


def _finding(group: _Group, settings: Settings) -> Finding:
    example = group.example
    assert example is not None
    attrs = example.attrs
    rows = example.load.rows
    evidence: dict[str, Any] = {
        "relation": attrs.get("relation"),
        "written": attrs.get("written"),
        "method": attrs.get("method"),
        "model": attrs.get("model"),
        "rows": rows,
        "requests_affected": group.requests,
        "framework": attrs.get("orm"),
    }
    if attrs.get("related_rows") is not None:
        evidence["related_rows"] = attrs["related_rows"]
    if group.extra_count:
        evidence["extra_queries"] = example.load.extra_queries
        evidence["extra_query_ms"] = round(group.extra_ms / group.extra_count, 3)
        # What the load wastes per request, for ranking.
        evidence["wasted_ms"] = evidence["extra_query_ms"]
    if group.query_count:
        evidence["query_ms"] = round(group.query_ms / group.query_count, 3)
    if example.load.statement:
        evidence["statement"] = example.load.statement
    severity: Severity = (
        "warning" if (rows or 0) >= settings.unused_eager_load_warning_rows else "info"
    )
    # No frame of the user's code when the queryset was evaluated (a DRF view's
    # `queryset =`, evaluated inside the library): the view that answered, if the
    # user wrote it (not DRF's own ListAPIView.get).
    location: Location | None = example.location
    if location is None:
        view = group.handler
        location = view if view and callsite.classify(view.path) == callsite.USER else None
    row_text = "1 row" if rows == 1 else f"{rows} rows" if rows else "its rows"
    return Finding(
        id=UnusedEagerLoad.id,
        severity=severity,
        title=f"Unused eager load: {attrs.get('written')} loaded for {row_text}, never read",
        endpoint=example.endpoint,
        location=location,
        evidence=evidence,
        fix=remedy(attrs),
        fingerprint=finding_fingerprint(
            UnusedEagerLoad.id,
            example.endpoint,
            attrs.get("written"),
            location,
        ),
        trace_id=example.trace_id,
    )


class _Session(Session):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.groups: dict[tuple[Any, ...], _Group] = {}
        self.seen = 0

    def feed(self, traces: Sequence[Trace]) -> None:
        groups = self.groups
        for trace in traces:
            self.seen += 1
            if not of_kind(trace, KIND):
                continue
            # _measure reads the spans after the load: by their index in the trace.
            for index, span in enumerate(trace.spans):
                if span.kind != KIND:
                    continue
                key = _key(trace, span)
                group = groups.get(key)
                if group is None:
                    group = groups[key] = _Group()
                if span.attrs.get("used"):
                    group.used = True
                elif not group.used:
                    group.add(trace, self.seen, span, _measure(trace, index, span))

    def findings(self) -> list[Finding]:
        found = []
        for group in self.groups.values():
            if group.used or group.example is None:
                continue
            # A count unknown (a driver that does not report rows) is not a reason to stay quiet.
            most = group.most_rows
            if most is not None and most < self.settings.unused_eager_load_min_rows:
                continue
            found.append(_finding(group, self.settings))
        return found


@register
class UnusedEagerLoad(Summarising):
    id = "unused-eager-load"
    description = "a select_related/prefetch_related/joinedload/selectinload nothing reads"

    def session(self, settings: Settings) -> Session:
        return _Session(settings)

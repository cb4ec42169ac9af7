"""The spans of one OTLP trace → perfdoctor traces: one per request a server handled.

A SERVER span (or a parentless one) starts a perfdoctor trace; every other span
belongs to the nearest such span above it.  One distributed trace that crossed
two services therefore gives two requests, each with its own queries and calls.
A trace without any SERVER span (a batch job, a script) is named after its root.

Spans of a trace that was written already (a file far out of order, a trace
split across two files) come back as :class:`StoredSpan`: their place in the
tree and what the store kept of them, so the trace is mapped again whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from perfdoctor.capture.privacy import keyed_digest
from perfdoctor.capture.response import KEPT_HEADERS
from perfdoctor.capture.routes import (
    from_angle_template,
    from_brace_template,
    from_django_route,
    from_raw_path,
)
from perfdoctor.model import JOB_KIND, SERVER_KIND, Span, Trace
from perfdoctor.orm import stored
from perfdoctor.otlp import semconv as sc
from perfdoctor.otlp.decode import CLIENT, SERVER, OtlpSpan
from perfdoctor.otlp.spans import convert, stack_of

# Server instrumentation scope → the framework named in trace attrs (fix texts).
_FRAMEWORKS = ("django", "flask", "fastapi", "starlette")


@dataclass
class StoredSpan(OtlpSpan):
    """A span imported before: where it sits in its trace, and what the store keeps."""

    # The stored perfdoctor trace that holds it.
    owner: str = ""
    # Its perfdoctor span there (None: not a query, call or cache operation, or cut).
    kept: Span | None = None
    # The stored trace it is the root of: its name, status and attributes stay.
    header: Trace | None = None


@dataclass
class Placed:
    """Where a span went: the perfdoctor trace and its index in that trace's spans."""

    span: OtlpSpan
    owner: str
    seq: int | None


@dataclass
class Mapped:
    traces: list[Trace]
    # Spans that are none of db/http/cache (a template render, a custom span).
    other: int = 0
    # Spans dropped past max_spans_per_trace.
    over_limit: int = 0
    # Queries seen by two instrumentations (the ORM's and the driver's): the inner left out.
    layered: int = 0
    placed: list[Placed] = field(default_factory=list)


def map_trace(spans: list[OtlpSpan], max_spans: int, stack_depth: int) -> Mapped:
    """The perfdoctor traces in the spans of one OTLP trace id."""
    by_id = {s.span_id: s for s in spans}
    roots = {s.span_id for s in spans if starts_trace(s, by_id)}
    groups: dict[str, list[OtlpSpan]] = {}
    for span in spans:
        groups.setdefault(_owner(span, by_id, roots), []).append(span)
    mapped = Mapped(traces=[])
    for root_id, members in groups.items():
        root = by_id[root_id]
        if _nothing_to_read(root, members, stack_depth):
            mapped.other += 1
            continue
        trace = _header(root, by_id)
        children: list[tuple[int, int, Span, OtlpSpan]] = []
        for span in members:
            if span is root and root.kind == SERVER:
                continue
            start_ms = (span.start_ns - root.start_ns) / 1e6
            if isinstance(span, StoredSpan):
                converted = replace(span.kept, start_ms=start_ms) if span.kept else None
            else:
                converted = convert(span, start_ms, stack_depth)
                if converted is None and span is not root:
                    mapped.other += 1
            if converted is not None:
                children.append((span.start_ns, span.end_ns, converted, span))
        children.sort(key=lambda item: (item[0], item[1]))
        layered = _layered(children)
        if layered:
            mapped.layered += len(layered)
            children = [c for c in children if id(c[3]) not in layered]
        if len(children) > max_spans:
            mapped.over_limit += len(children) - max_spans
            children = children[:max_spans]
        trace.spans = [c[2] for c in children]
        if trace.attrs.get("framework") == "django":
            _django_orm_queries(trace.spans)
        mapped.traces.append(trace)
        seqs = {id(c[3]): seq for seq, c in enumerate(children)}
        mapped.placed.extend(Placed(s, trace.id, seqs.get(id(s))) for s in members)
    return mapped


# A column as Django's ORM writes every one it selects: its table's name, quoted,
# a dot, its own ("blog_author"."id"; `blog_author`.`id` on MySQL).
_DJANGO_COLUMN = re.compile(r'"\w+"\."\w+"|`\w+`\.`\w+`')


def _django_orm_queries(spans: list[Span]) -> None:
    """The queries of a Django request that Django's ORM wrote, said so.

    OpenTelemetry instruments the driver (sqlite3, psycopg, mysqlclient), not the
    ORM: its spans name no framework, and an N+1's fix would be a raw-SQL one
    (collect the keys, one ``WHERE id IN``).  A SELECT in a request Django's
    instrumentation served, every column qualified with its quoted table's name,
    is the ORM's: its fix is ``select_related``/``prefetch_related`` on the
    queryset (the relation itself is named only with the app's models, which
    OpenTelemetry does not send)."""
    for span in spans:
        if span.kind != "db" or span.framework is not None or not span.statement:
            continue
        head = span.statement.lstrip()[:7].upper()
        if head.startswith("SELECT") and _DJANGO_COLUMN.search(span.statement):
            span.framework = "django"


def _layered(children: list[tuple[int, int, Span, OtlpSpan]]) -> set[int]:
    """The ids of the driver's query spans that repeat an ORM's span of the same query.

    ``opentelemetry-instrument`` turns on every instrumentation it finds: an app
    on SQLAlchemy gets SQLAlchemy's span and the driver's (sqlite3, psycopg) for
    each query, siblings under the request, the ORM's starting first and ending
    last.  Counted twice, every query of a loop is two, and each read a
    duplicate.  The driver's goes (the ORM's names its framework, for the fix;
    it is what tells the two apart, as a span read back from the store has no
    scope); an ORM span pairs with one driver span, and the same query twice
    from one instrumentation (``asyncio.gather``) stays two."""
    inner: set[int] = set()
    # (parent, statement shape) -> the end of an ORM's span that may enclose the next.
    open_: dict[tuple[str | None, str | None], int] = {}
    for _start, end, span, otlp in sorted(children, key=lambda c: (c[0], -c[1])):
        if span.kind != "db":
            continue
        key = (otlp.parent_id, span.fingerprint)
        if span.framework is not None:
            open_[key] = end
        elif open_.get(key, -1) >= end:
            inner.add(id(otlp))
            del open_[key]
    return inner


def _nothing_to_read(root: OtlpSpan, members: list[OtlpSpan], stack_depth: int) -> bool:
    """A lone client span outside any request that is no query, call or cache
    operation: the DNS lookup of a connection opened at start-up (Node's
    auto-instrumentation sends them), not a request or a job of the app."""
    return (
        len(members) == 1
        and root.kind == CLIENT
        and not isinstance(root, StoredSpan)
        and convert(root, 0.0, stack_depth) is None
    )


def _header(root: OtlpSpan, by_id: dict[str, OtlpSpan]) -> Trace:
    """A new trace for the root, or the stored one it already heads (spans to be set)."""
    if isinstance(root, StoredSpan) and root.header is not None:
        return replace(root.header, spans=[])
    return _trace(root, by_id)


def starts_trace(span: OtlpSpan, by_id: dict[str, OtlpSpan]) -> bool:
    parent = by_id.get(span.parent_id) if span.parent_id else None
    if parent is None:
        return True
    # A server span right under another is the same request seen by two layers
    # (WSGI middleware and the framework); under a client call it is another service.
    return span.kind == SERVER and parent.kind != SERVER


def _owner(span: OtlpSpan, by_id: dict[str, OtlpSpan], roots: set[str]) -> str:
    current = span
    for _ in range(len(by_id) + 1):  # a cycle of parent ids ends the walk
        if current.span_id in roots:
            return current.span_id
        parent = by_id.get(current.parent_id) if current.parent_id else None
        if parent is None:
            break
        current = parent
    return current.span_id


def _kind(root: OtlpSpan) -> str:
    """A request, a job, or an operation outside both: a query, call or cache
    operation that heads its own trace (a start-up's migrations and checks, a
    framework's own queries at boot), which is no endpoint."""
    if root.kind == SERVER:
        return "http"
    if root.kind == CLIENT and root.parent_id is None:
        return SERVER_KIND
    return JOB_KIND


def _trace(root: OtlpSpan, by_id: dict[str, OtlpSpan]) -> Trace:
    # The root of the whole trace keeps the OTLP trace id; a request further down
    # (another service) or a fragment whose parent is missing gets its span id too.
    trace_id = root.trace_id if root.parent_id is None else f"{root.trace_id}-{root.span_id}"
    attrs = root.attrs
    trace = Trace(
        id=trace_id,
        name=trace_name(root),
        kind=_kind(root),
        started_at=root.start_ns / 1e9,
        duration_ms=(root.end_ns - root.start_ns) / 1e6,
        status=sc.integer(attrs, sc.HTTP_STATUS) if root.kind == SERVER else None,
        pid=_int(root.resource.get(sc.PROCESS_PID)),
        attrs=_trace_attrs(root),
    )
    _restore(trace, attrs.get(sc.PERFDOCTOR_TRACE))
    catalogs = root.resource.get(sc.PERFDOCTOR_ORM)
    if isinstance(catalogs, str) and trace.attrs.get("orm"):
        trace.orm = stored.catalogs_for(trace.attrs, _catalog_texts(catalogs))
    return trace


# The resource attribute of the last line, parsed: every trace of a line shares it.
_last_catalogs: tuple[str, dict[str, str]] = ("", {})


def _catalog_texts(raw: str) -> dict[str, str]:
    """content id -> stored JSON of the catalogs ``perfdoctor export otlp`` put
    on the resource; an unreadable attribute gives none."""
    global _last_catalogs
    if _last_catalogs[0] is raw or _last_catalogs[0] == raw:
        return _last_catalogs[1]
    texts: dict[str, str] = {}
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if isinstance(data, dict):
        texts = {
            str(key): stored.catalog_text(value)
            for key, value in data.items()
            if isinstance(value, dict)
        }
    _last_catalogs = (raw, texts)
    return texts


def trace_name(root: OtlpSpan) -> str:
    """``METHOD /route/{id}`` for a request, the span's own name for anything else."""
    attrs = root.attrs
    method = sc.text(attrs, sc.HTTP_METHOD)
    if root.kind != SERVER or method is None:
        return root.name or "unnamed"
    route = sc.text(attrs, sc.HTTP_ROUTE)
    if route:
        if route.startswith("^") or route.endswith("$") or "(?P<" in route:
            # Django's re_path() (a CMS's catch-all page route, DRF's routers): the
            # instrumentation sends the regex, "^((?:[\w\-]+/)*)$".  Anchored or with
            # a named group: Rails' "/users/:id(.:format)" is a template, parentheses
            # and all.
            template = from_django_route(route)
        else:
            # Flask and Django write <int:id>, Starlette {id:int}: both become {id}.
            template = from_brace_template(from_angle_template(route) if "<" in route else route)
        return f"{method.upper()} {template if template.startswith('/') else '/' + template}"
    path = sc.text(attrs, sc.URL_PATH) or _path(sc.text(attrs, sc.HTTP_TARGET))
    if path:
        return f"{method.upper()} {from_raw_path(path)}"
    return root.name or method.upper()


def _path(target: str | None) -> str | None:
    return urlsplit(target).path if target else None


def _trace_attrs(root: OtlpSpan) -> dict[str, Any]:
    attrs = root.attrs
    out: dict[str, Any] = {}
    framework = next((f for f in _FRAMEWORKS if f in root.scope), None)
    if framework:
        out["framework"] = framework
    service = root.resource.get(sc.SERVICE_NAME)
    if isinstance(service, str):
        out["service"] = service
    stack = stack_of(attrs, 1)
    if stack:
        out["handler"] = {
            "path": stack[0].path,
            "line": stack[0].line,
            "function": stack[0].function,
        }
    headers = {}
    for name in KEPT_HEADERS:
        value = sc.text(attrs, (sc.RESPONSE_HEADER_PREFIX + name,))
        if value is not None:
            headers[name] = value
    if headers:
        out["response_headers"] = headers
    size = sc.integer(attrs, sc.HTTP_RESPONSE_BYTES)
    if size is not None:
        out["response"] = {"bytes": size}
    query = sc.text(attrs, sc.URL_QUERY)
    if query is None:
        target = sc.text(attrs, sc.HTTP_TARGET)
        query = urlsplit(target).query if target else None
    if query:
        # Names only: values never leave the file.
        out["query_names"] = sorted({name for name, _ in parse_qsl(query, keep_blank_values=True)})
    user = sc.text(attrs, sc.USER_ID)
    if user is not None:
        out["user"] = keyed_digest(user)
        out["authenticated"] = True
    return out


def _restore(trace: Trace, raw: Any) -> None:
    """A trace written by ``perfdoctor export otlp`` gets its own id, name and facts back."""
    if not isinstance(raw, str):
        return
    try:
        data = json.loads(raw)
    except ValueError:
        return
    if not isinstance(data, dict):
        return
    for name in ("id", "name", "kind"):
        if isinstance(data.get(name), str):
            setattr(trace, name, data[name])
    status = data.get("status")
    if status is None or _fits(status):
        trace.status = status
    trace.pid = _int(data.get("pid"))
    cpu = data.get("cpu_ms")
    trace.cpu_ms = None
    if isinstance(cpu, float) or (isinstance(cpu, int) and _fits(cpu)):
        trace.cpu_ms = float(cpu)
    if isinstance(data.get("attrs"), dict):
        trace.attrs = data["attrs"]


def _fits(value: Any) -> bool:
    """An integer SQLite can store (a bigger one would stop the import)."""
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < sc.INT64


def _int(value: Any) -> int:
    return value if _fits(value) else 0


def all_traces(groups: Iterable[list[OtlpSpan]], max_spans: int, depth: int) -> Mapped:
    total = Mapped(traces=[])
    for spans in groups:
        mapped = map_trace(spans, max_spans, depth)
        total.traces.extend(mapped.traces)
        total.other += mapped.other
        total.over_limit += mapped.over_limit
        total.layered += mapped.layered
        total.placed.extend(mapped.placed)
    return total

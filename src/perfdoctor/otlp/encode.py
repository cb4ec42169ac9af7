"""perfdoctor traces → OTLP JSON (``ExportTraceServiceRequest``), one request per line.

Each trace becomes a root span (SERVER for a request, INTERNAL for a job) with
its operations as children.  Attributes use the stable semantic-convention
names only (``http.request.method``, ``db.query.text``, ``db.system.name``,
``url.full``...): current backends read them, and perfdoctor reads both.
What no convention names (digests, connection ids, call stacks, trace attrs)
goes into two perfdoctor attributes, ``perfdoctor.trace`` and ``perfdoctor.span``
(JSON strings), so that export then import gives back the same traces.
Ids are lowercase hex, as the OTLP JSON encoding requires.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from perfdoctor import __version__
from perfdoctor.model import Span, Trace
from perfdoctor.orm import stored
from perfdoctor.otlp import semconv as sc
from perfdoctor.otlp.decode import CLIENT, INTERNAL, SERVER

# Traces per line: an OTLP exporter's batch is 512 spans by default; a line
# per 100 requests keeps lines to a few hundred kB.
TRACES_PER_LINE = 100
_SCOPE = {"name": "perfdoctor", "version": __version__}


def lines(traces: Iterable[Trace]) -> Iterator[str]:
    """JSON Lines text, one ExportTraceServiceRequest per line."""
    batch: list[Trace] = []
    for trace in traces:
        batch.append(trace)
        if len(batch) >= TRACES_PER_LINE:
            yield json.dumps(request(batch), separators=(",", ":")) + "\n"
            batch = []
    if batch:
        yield json.dumps(request(batch), separators=(",", ":")) + "\n"


def request(traces: list[Trace]) -> dict[str, Any]:
    by_service: dict[str, list[dict[str, Any]]] = {}
    catalogs: dict[str, dict[str, str]] = {}  # service -> content id -> catalog JSON
    seen: dict[int, str] = {}
    for trace in traces:
        service = str(trace.attrs.get("service") or "perfdoctor")
        texts = catalogs.setdefault(service, {})
        orm = stored.catalog_ids(trace.orm, texts, seen) if trace.orm else None
        by_service.setdefault(service, []).extend(trace_spans(trace, orm))
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attributes(_resource(service, catalogs[service]))},
                "scopeSpans": [{"scope": _SCOPE, "spans": spans}],
            }
            for service, spans in by_service.items()
        ]
    }


def _resource(service: str, catalogs: dict[str, str]) -> dict[str, Any]:
    attrs: dict[str, Any] = {sc.SERVICE_NAME: service}
    if catalogs:
        # the app's models, so that imported traces still get fixes named from them
        attrs[sc.PERFDOCTOR_ORM] = json.dumps(
            {catalog_id: json.loads(text) for catalog_id, text in catalogs.items()},
            separators=(",", ":"),
        )
    return attrs


def _hex(text: str, size: int) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=size).hexdigest()


def trace_id_of(trace: Trace) -> str:
    """The trace's own id when it is already an OTLP trace id, else one derived from it."""
    text = trace.id.lower()
    if len(text) == 32 and all(c in "0123456789abcdef" for c in text) and text.strip("0"):
        return text
    return _hex(trace.id, 16)


def trace_spans(trace: Trace, orm: list[str] | None = None) -> list[dict[str, Any]]:
    """The trace's OTLP spans; ``orm``: the ids of its catalogs on the resource."""
    trace_id = trace_id_of(trace)
    root_id = _hex(f"{trace.id}/root", 8)
    start_ns = int(trace.started_at * 1e9)
    root_attrs: dict[str, Any] = {
        sc.PERFDOCTOR_TRACE: json.dumps(
            {
                "id": trace.id,
                "name": trace.name,
                "kind": trace.kind,
                "status": trace.status,
                "pid": trace.pid,
                "cpu_ms": trace.cpu_ms,
                "attrs": trace.attrs if orm is None else {**trace.attrs, "orm": orm},
            },
            default=str,
        )
    }
    is_request = trace.kind == "http"
    if is_request:
        method, _, route = trace.name.partition(" ")
        root_attrs["http.request.method"] = method
        if route:
            root_attrs["http.route"] = route
        if trace.status is not None:
            root_attrs["http.response.status_code"] = trace.status
    out = [
        _span(
            trace_id,
            root_id,
            None,
            trace.name,
            SERVER if is_request else INTERNAL,
            start_ns,
            trace.duration_ms,
            root_attrs,
        )
    ]
    for index, span in enumerate(trace.spans):
        out.append(
            _span(
                trace_id,
                _hex(f"{trace.id}/{index}", 8),
                root_id,
                _span_name(span),
                CLIENT if span.kind in ("db", "http", "cache", "db.connect") else INTERNAL,
                start_ns + int(span.start_ms * 1e6),
                span.duration_ms,
                span_attributes(span),
            )
        )
    return out


def _span(
    trace_id: str,
    span_id: str,
    parent: str | None,
    name: str,
    kind: int,
    start_ns: int,
    duration_ms: float,
    attrs: dict[str, Any],
) -> dict[str, Any]:
    span: dict[str, Any] = {"traceId": trace_id, "spanId": span_id}
    if parent is not None:
        span["parentSpanId"] = parent
    span.update(
        {
            "name": name,
            "kind": kind,
            # int64 as a string, as the protobuf JSON mapping writes it.
            "startTimeUnixNano": str(start_ns),
            "endTimeUnixNano": str(start_ns + int(duration_ms * 1e6)),
            "attributes": _attributes(attrs),
            "status": {},
        }
    )
    return span


def _span_name(span: Span) -> str:
    if span.kind == "db" and span.statement:
        return span.statement.split(None, 1)[0].upper()
    if span.kind == "http":
        return str(span.attrs.get("method") or "GET")
    if span.kind == "cache":
        return str(span.attrs.get("op") or "cache").upper()
    return span.kind


def span_attributes(span: Span) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if span.kind in ("db", "db.connect", "cache") and span.system:
        attrs["db.system.name"] = span.system
    if span.kind == "db" and span.statement:
        attrs["db.query.text"] = span.statement
        attrs["db.operation.name"] = span.statement.split(None, 1)[0].upper()
        if span.rows is not None:
            attrs["db.response.returned_rows"] = span.rows
    if span.kind == "cache" and span.attrs.get("op"):
        attrs["db.operation.name"] = str(span.attrs["op"]).upper()
    if span.kind == "http":
        attrs["http.request.method"] = span.attrs.get("method") or "GET"
        if span.attrs.get("url"):
            attrs["url.full"] = span.attrs["url"]  # the template: no query, ids collapsed
        host, _, port = str(span.attrs.get("host") or "").rpartition(":")
        if host:
            attrs["server.address"] = host
            if port.isdigit():
                attrs["server.port"] = int(port)
        if isinstance(span.attrs.get("status"), int):
            attrs["http.response.status_code"] = span.attrs["status"]
        if span.attrs.get("error"):
            attrs["error.type"] = span.attrs["error"]
    if span.location is not None:
        attrs["code.file.path"] = span.location.path
        attrs["code.line.number"] = span.location.line
        attrs["code.function.name"] = span.location.function
    attrs[sc.PERFDOCTOR_SPAN] = json.dumps(
        {
            "kind": span.kind,
            "framework": span.framework,
            "system": span.system,
            "statement": span.statement,
            "fingerprint": span.fingerprint,
            "params_digest": span.params_digest,
            "rows": span.rows,
            "connection_id": span.connection_id,
            "attrs": span.attrs,
            "stack": [[f.path, f.line, f.function] for f in span.stack],
        },
        default=str,
    )
    return attrs


def _attributes(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _any_value(value)} for key, value in attrs.items()]


def _any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}

"""Hand-written OTLP JSON, shaped as the file exporters write it, for the mapping tests."""

from __future__ import annotations

import json
from typing import Any

TRACE = "5b8efff798038103d269b633813fc60c"
ROOT = "eee19b7ec3c1b174"
START = 1_700_000_000_000_000_000  # ns


def value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list):
        return {"arrayValue": {"values": [value(x) for x in v]}}
    return {"stringValue": v}


def span(
    span_id: str,
    name: str,
    kind: int,
    start_ms: float,
    ms: float,
    attrs: dict[str, Any],
    parent: str | None = ROOT,
    trace: str = TRACE,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": trace,
        "spanId": span_id,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(START + int(start_ms * 1e6)),
        "endTimeUnixNano": str(START + int((start_ms + ms) * 1e6)),
        "attributes": [{"key": k, "value": value(v)} for k, v in attrs.items()],
        "status": {},
    }
    if parent is not None:
        out["parentSpanId"] = parent
    return out


def request(
    spans: list[dict[str, Any]], scope: str = "test", service: str = "shop"
) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": value(service)}]},
                "scopeSpans": [{"scope": {"name": scope}, "spans": spans}],
            }
        ]
    }


def line(spans: list[dict[str, Any]], scope: str = "test") -> str:
    return json.dumps(request(spans, scope), separators=(",", ":")) + "\n"


def server(
    attrs: dict[str, Any], ms: float = 50.0, span_id: str = ROOT, trace: str = TRACE
) -> dict[str, Any]:
    return span(span_id, "GET /x", 2, 0.0, ms, attrs, parent=None, trace=trace)


OLD_SERVER = {"http.method": "GET", "http.route": "/articles/<int:id>", "http.status_code": 200}
NEW_SERVER = {
    "http.request.method": "GET",
    "http.route": "/articles/<int:id>",
    "http.response.status_code": 200,
}


def n_plus_one(trace: str, repeats: int = 6, new_names: bool = False) -> list[dict[str, Any]]:
    """A request that loads a list, then one row per item: hex ids derived from ``trace``."""
    system, statement = (
        ("db.system.name", "db.query.text") if new_names else ("db.system", "db.statement")
    )
    root = "e" + trace[17:]  # unlike the children's ids below
    spans = [server(NEW_SERVER if new_names else OLD_SERVER, 40.0, span_id=root, trace=trace)]
    spans.append(
        span(
            f"{1:016x}",
            "SELECT",
            3,
            1.0,
            1.0,
            {system: "postgresql", statement: "SELECT id FROM articles LIMIT 10"},
            parent=root,
            trace=trace,
        )
    )
    for i in range(repeats):
        spans.append(
            span(
                f"{i + 2:016x}",
                "SELECT",
                3,
                3.0 + i * 2,
                1.0,
                {system: "postgresql", statement: f"SELECT * FROM authors WHERE id = {100 + i}"},
                parent=root,
                trace=trace,
            )
        )
    return spans


def rounded(value: Any) -> Any:
    """Floats to 2 places, all the way down: reports compared across a round trip."""
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value

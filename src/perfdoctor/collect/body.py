"""A request body as OTLP spans, and the answers the OTLP/HTTP spec asks for."""

from __future__ import annotations

import base64
import json
import zlib
from io import BufferedIOBase
from typing import Any

from perfdoctor.errors import UsageError
from perfdoctor.otlp import decode
from perfdoctor.otlp.decode import OtlpSpan, Skips

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class BadBody(Exception):
    """The body cannot be read as an OTLP trace request: 400."""


class TooLarge(Exception):
    """The body, once unzipped, is over the limit: 413."""


def require_protobuf() -> None:
    """Fail at start, not at the first request, when the protobuf classes are missing:
    SDKs and the Collector send protobuf unless told otherwise."""
    try:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            "perfdoctor collect decodes OTLP protobuf with the opentelemetry-proto package, "
            "which is not installed: pip install 'perfdoctor[collect]'"
        ) from exc


def read_chunked(stream: BufferedIOBase, limit: int) -> bytes | None:
    """A ``Transfer-Encoding: chunked`` body read to its end (trailers skipped);
    None when the connection ends first.  Reading stops at ``limit`` bytes
    (TooLarge): a sender that never ends a body holds no more than that."""
    parts: list[bytes] = []
    size = 0
    while True:
        line = stream.readline(_CHUNK_LINE)
        if not line.endswith(b"\n"):
            return None
        try:
            length = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise BadBody(f"a chunk's size line is not hexadecimal: {line[:40]!r}") from exc
        if length == 0:
            break
        size += length
        if size > limit:
            raise TooLarge(f"the body is over the {decode.size_text(limit)} limit")
        part = stream.read(length)
        if len(part) < length or not stream.readline(_CHUNK_LINE).endswith(b"\n"):
            return None
        parts.append(part)
    while True:  # trailer fields, then the empty line that ends the body
        line = stream.readline(_CHUNK_LINE)
        if not line.endswith(b"\n"):
            return None
        if line in (b"\r\n", b"\n"):
            return b"".join(parts)


# A chunk's size line (hex digits, perhaps extensions) or a trailer field, at most.
_CHUNK_LINE = 8192


def gunzip(data: bytes, limit: int) -> bytes:
    # Unzipped in one bounded step: a small gzip bomb must not expand in memory.
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BadBody(f"Content-Encoding is gzip but the body is not: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"the unzipped body is over the {decode.size_text(limit)} limit")
    if not inflater.eof:
        raise BadBody("the gzip body is cut short")
    return out


def spans(data: bytes, content_type: str) -> tuple[list[OtlpSpan], Skips]:
    """The valid spans of one ExportTraceServiceRequest and what was left out."""
    value = _protobuf(data) if content_type == PROTOBUF else _json(data)
    skips = Skips()
    return list(decode.spans(value, 1, skips)), skips


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBody(f"the body is not JSON: {exc}") from exc
    if not decode.is_trace_request(value):
        raise BadBody(f"the body is not an OTLP trace request: {decode.describe_foreign(value)}")
    return dict(value)


def _protobuf(data: bytes) -> dict[str, Any]:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(data)
    except DecodeError as exc:
        raise BadBody(f"the body is not an OTLP protobuf trace request: {exc}") from exc
    return as_json(request)


def as_json(request: Any) -> dict[str, Any]:
    """The request in OTLP JSON's shape, for perfdoctor.otlp.decode to read: one
    decoder and one mapping for both encodings.  Protobuf's own MessageToDict gives
    the same shape but took half of the receiver's time."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attributes(rs.resource.attributes)},
                "scopeSpans": [
                    {"scope": {"name": ss.scope.name}, "spans": [_span(s) for s in ss.spans]}
                    for ss in rs.scope_spans
                ],
            }
            for rs in request.resource_spans
        ]
    }


def _span(span: Any) -> dict[str, Any]:
    return {
        "traceId": span.trace_id.hex(),
        "spanId": span.span_id.hex(),
        "parentSpanId": span.parent_span_id.hex(),
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": span.start_time_unix_nano,
        "endTimeUnixNano": span.end_time_unix_nano,
        "attributes": _attributes(span.attributes),
        "status": {"code": span.status.code},
    }


def _attributes(items: Any) -> list[dict[str, Any]]:
    return [{"key": kv.key, "value": _value(kv.value)} for kv in items]


def _value(value: Any) -> dict[str, Any]:
    which = value.WhichOneof("value")
    if which == "string_value":
        return {"stringValue": value.string_value}
    if which == "int_value":
        return {"intValue": value.int_value}
    if which == "double_value":
        return {"doubleValue": value.double_value}
    if which == "bool_value":
        return {"boolValue": value.bool_value}
    if which == "array_value":
        return {"arrayValue": {"values": [_value(v) for v in value.array_value.values]}}
    if which == "kvlist_value":
        return {"kvlistValue": {"values": _attributes(value.kvlist_value.values)}}
    if which == "bytes_value":
        return {"bytesValue": base64.b64encode(value.bytes_value).decode()}
    return {}


def success(content_type: str, skips: Skips) -> bytes:
    """An ExportTraceServiceResponse: empty, or a partial success naming what was rejected."""
    rejected = skips.total()
    if content_type == JSON:
        if not rejected:
            return b"{}"
        partial = {"rejectedSpans": str(rejected), "errorMessage": skips.describe()}
        return json.dumps({"partialSuccess": partial}).encode()
    data: bytes = response_message(skips).SerializeToString()
    return data


def response_message(skips: Skips) -> Any:
    """The ExportTraceServiceResponse message (protobuf, gRPC): a partial success
    naming what was rejected, if anything was."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    response = ExportTraceServiceResponse()
    rejected = skips.total()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = skips.describe()
    return response


# google.rpc.Code values the spec's error answers use.
INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE = 3, 8, 14


def status(content_type: str, code: int, message: str) -> bytes:
    """A google.rpc.Status, the body of every OTLP/HTTP error answer."""
    if content_type != PROTOBUF:
        return json.dumps({"code": code, "message": message}).encode()
    # Two fields, encoded by hand: the message type is not in opentelemetry-proto.
    text = message.encode()
    return b"\x08" + varint(code) + b"\x12" + varint(len(text)) + text


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)

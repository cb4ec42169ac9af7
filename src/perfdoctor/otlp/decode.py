"""Reading OTLP JSON trace files: records out of a file, spans out of a record.

A file is JSON Lines (one ``ExportTraceServiceRequest`` per line, as the
Collector's file exporter and ``opentelemetry-exporter-otlp-json-file`` write
it) or one JSON document over many lines; either may be gzipped.  Lines are
read one at a time and none longer than the limit is ever held in memory:
a bad line is counted in :class:`Skips` and reading goes on.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from perfdoctor.errors import UsageError

_GZIP_MAGIC = b"\x1f\x8b"
# Where a span's kind comes as the enum's name (protobuf JSON allows both).
_KIND_NAMES = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
SERVER, CLIENT, INTERNAL = 2, 3, 1
_KINDS = frozenset(_KIND_NAMES.values())
# A file's first records that are looked at to tell whether it is OTLP at all.
SNIFF_RECORDS = 100
_CHUNK = 1024 * 1024
_FIRST_LINES_SHOWN = 3


@dataclass
class Skips:
    """What was left out and why: a count per reason and the first line numbers."""

    counts: dict[str, int] = field(default_factory=dict)
    lines: dict[str, list[int]] = field(default_factory=dict)

    def add(self, reason: str, line: int, count: int = 1) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + count
        shown = self.lines.setdefault(reason, [])
        if len(shown) < _FIRST_LINES_SHOWN and line not in shown:
            shown.append(line)

    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        """``reason: count (lines 2, 5); ...``"""
        parts = []
        for reason, count in self.counts.items():
            lines = self.lines.get(reason, [])
            where = f" (line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))})"
            parts.append(f"{reason}: {count}{where if lines else ''}")
        return "; ".join(parts)


@dataclass
class OtlpSpan:
    """One OTLP span, ids in lowercase hex, attributes as plain values."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attrs: dict[str, Any]
    scope: str
    resource: dict[str, Any]
    error: bool = False


def size_text(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} kB"


def _open(path: Path) -> IO[bytes]:
    try:
        handle: IO[bytes] = open(path, "rb")  # noqa: SIM115 - returned to the caller
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if handle.read(2) == _GZIP_MAGIC:
        handle.close()
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # a binary file object
    handle.seek(0)
    return handle


def _lines(handle: IO[bytes], max_bytes: int, skips: Skips) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, line, ended with a newline) for every line within the limit."""
    number = 0
    while True:
        try:
            line = handle.readline(max_bytes + 1)
        except (EOFError, OSError, zlib.error) as exc:
            skips.add(f"file cut short or damaged ({type(exc).__name__})", number + 1)
            return
        if not line:
            return
        number += 1
        if len(line) > max_bytes and not line.endswith(b"\n"):
            skips.add(f"line longer than the {size_text(max_bytes)} limit", number)
            # Skip the rest of it without keeping it.
            while line and not line.endswith(b"\n"):
                try:
                    line = handle.readline(_CHUNK)
                except (EOFError, OSError, zlib.error):
                    return
            continue
        yield number, line, line.endswith(b"\n")


def records(
    path: Path, max_bytes: int, skips: Skips, read: Callable[[int], None] | None = None
) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON value) for each JSON line, or the whole file as
    one document when it is pretty-printed over many lines.  ``read``: told how far
    into the file (bytes on disk, compressed if it is) the reading has got."""
    with _open(path) as handle:
        first = True
        # A gzipped file's own position is in uncompressed bytes: the file beneath it.
        raw: IO[bytes] = getattr(handle, "fileobj", None) or handle
        told = 0
        for number, line, complete in _lines(handle, max_bytes, skips):
            if read is not None and raw.tell() - told >= _TELL_EVERY:
                told = raw.tell()
                read(told)
            text = line.strip()
            if not text:
                continue
            try:
                value = json.loads(text)
            except (ValueError, UnicodeDecodeError) as exc:
                if first and _unfinished(exc, text):
                    document = _document(path, max_bytes)
                    if document is not None:
                        yield 1, document
                        return
                skips.add("truncated line" if not complete else "not JSON", number)
                first = False
                continue
            first = False
            yield number, value


# Progress moves on at most once per this many bytes read.
_TELL_EVERY = 256 * 1024


def _unfinished(exc: Exception, text: bytes) -> bool:
    """A first line that is the start of a JSON document spread over lines."""
    return (
        isinstance(exc, json.JSONDecodeError)
        and text[:1] in (b"{", b"[")
        and exc.pos >= len(exc.doc.rstrip()) - 1
    )


def _document(path: Path, max_bytes: int) -> Any:
    """The whole file as one JSON value, or None (then it is read as lines after all)."""
    with _open(path) as handle:
        try:
            data = handle.read(max_bytes + 1)
        except (EOFError, OSError, zlib.error):
            return None
    if len(data) > max_bytes:
        return None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None


def describe_foreign(value: Any) -> str:
    """What a JSON value that is not an OTLP trace request looks like, for the error."""
    if isinstance(value, dict):
        if "resourceLogs" in value or "resourceMetrics" in value:
            return "OTLP logs or metrics, not traces"
        data = value.get("data")
        if isinstance(data, list) and data and isinstance(data[0], dict) and "traceID" in data[0]:
            return "Jaeger JSON, not OTLP (export OTLP from Jaeger or the Collector)"
        keys = ", ".join(sorted(map(str, value))[:5])
        return f"a JSON object without resourceSpans (keys: {keys})"
    if isinstance(value, list):
        if value and isinstance(value[0], dict) and "traceId" in value[0] and "id" in value[0]:
            return "Zipkin JSON, not OTLP (send it through the Collector's zipkin receiver)"
        return "a JSON array, not an OTLP ExportTraceServiceRequest object"
    return f"a JSON {type(value).__name__}, not an OTLP ExportTraceServiceRequest object"


def is_trace_request(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("resourceSpans"), list)


def sniff(path: Path, max_bytes: int) -> None:
    """Refuse a file that is not OTLP trace JSON, before anything is written."""
    skips = Skips()
    foreign: str | None = None
    for seen, (_, value) in enumerate(records(path, max_bytes, skips), start=1):
        if is_trace_request(value):
            return
        foreign = foreign or describe_foreign(value)
        if seen >= SNIFF_RECORDS:
            break
    if foreign is not None:
        raise UsageError(f"{path} is not OTLP trace JSON: it holds {foreign}")
    if skips.counts:
        hint = ""
        if set(skips.counts) == {"not JSON"}:
            hint = " (perfdoctor reads OTLP JSON: the Collector's file exporter with format: json)"
        raise UsageError(f"{path}: no OTLP trace data could be read ({skips.describe()}){hint}")
    raise UsageError(f"{path} is empty: no OTLP trace data in it")


def spans(value: dict[str, Any], line: int, skips: Skips) -> Iterator[OtlpSpan]:
    """The valid spans of one ExportTraceServiceRequest; bad ones are counted in ``skips``."""
    for resource_spans in _list(value.get("resourceSpans")):
        if not isinstance(resource_spans, dict):
            skips.add("malformed resourceSpans entry", line)
            continue
        resource = attributes(_dict(resource_spans.get("resource")).get("attributes"))
        # instrumentationLibrarySpans: the name before OTLP 0.15, still in old files.
        scoped = resource_spans.get("scopeSpans", resource_spans.get("instrumentationLibrarySpans"))
        for scope_spans in _list(scoped):
            if not isinstance(scope_spans, dict):
                skips.add("malformed scopeSpans entry", line)
                continue
            scope_info = scope_spans.get("scope", scope_spans.get("instrumentationLibrary"))
            scope = str(_dict(scope_info).get("name") or "")
            for raw in _list(scope_spans.get("spans")):
                span = _span(raw, scope, resource)
                if span is None:
                    skips.add("span without valid ids or times", line)
                else:
                    yield span


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _span(raw: Any, scope: str, resource: dict[str, Any]) -> OtlpSpan | None:
    if not isinstance(raw, dict):
        return None
    trace_id = hex_id(raw.get("traceId"), 16)
    span_id = hex_id(raw.get("spanId"), 8)
    start, end = _nanos(raw.get("startTimeUnixNano")), _nanos(raw.get("endTimeUnixNano"))
    if trace_id is None or span_id is None or start is None or end is None or end < start:
        return None
    kind = raw.get("kind", 0)
    if isinstance(kind, str):
        kind = _KIND_NAMES.get(kind, 0)
    if not isinstance(kind, int) or isinstance(kind, bool) or kind not in _KINDS:
        kind = 0
    status = _dict(raw.get("status")).get("code")
    return OtlpSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=hex_id(raw.get("parentSpanId"), 8),
        name=str(raw.get("name") or ""),
        kind=kind,
        start_ns=start,
        end_ns=end,
        attrs=attributes(raw.get("attributes")),
        scope=scope,
        resource=resource,
        error=status in (2, "STATUS_CODE_ERROR"),
    )


_HEX = re.compile(r"[0-9a-f]+")


def hex_id(value: Any, size: int) -> str | None:
    """An id as lowercase hex: OTLP JSON writes hex; protobuf's generic JSON writes base64."""
    if not isinstance(value, str) or not value:
        return None
    text = value.lower()
    if len(text) != size * 2 or not _HEX.fullmatch(text):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(raw) != size:
            return None
        text = raw.hex()
    return None if text.strip("0") == "" else text


# OTLP times are fixed64 nanoseconds; past int64 (the year 2262) a time is garbage
# that SQLite could not store either.
_MAX_NANOS = 2**63 - 1


def _nanos(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    # A float: a writer that lost the string form. ASCII digits only: int("²") fails.
    whole = isinstance(value, float) and value.is_integer()
    digits = isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20
    if whole or digits:
        value = int(value)
    return value if isinstance(value, int) and 0 < value <= _MAX_NANOS else None


def attributes(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in _list(items):
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            out[item["key"]] = any_value(item.get("value"))
    return out


def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a plain value (int64 comes as a string in JSON)."""
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return None
    if "doubleValue" in value:
        number = value["doubleValue"]
        try:  # JSON writes NaN and Infinity as strings
            return float(number) if isinstance(number, (int, float, str)) else None
        except ValueError:
            return None
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in _list(_dict(value["arrayValue"]).get("values"))]
    if "kvlistValue" in value:
        return attributes(_dict(value["kvlistValue"]).get("values"))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None

"""Turn a finished :class:`ActiveTrace` (raw tuples) into a model :class:`Trace`.

Runs in the recorder's thread, off the request path.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from types import CodeType
from typing import Any

from perfdoctor.capture.context import ActiveTrace
from perfdoctor.fingerprint import normalize
from perfdoctor.model import Location, Span, Trace

# The parameter digest is keyed with a secret that lives only in this process, so
# equal parameters compare equal within a request but the stored digest reveals
# nothing about the values (an id of 7 cannot be found by hashing 7).
_DIGEST_KEY = secrets.token_bytes(16)

_locations: dict[tuple[CodeType, int], Location] = {}


def location(code: CodeType, line: int) -> Location:
    key = (code, line)
    found = _locations.get(key)
    if found is None:
        if len(_locations) > 50_000:
            _locations.clear()
        found = Location(os.path.abspath(code.co_filename), line, code.co_qualname)
        _locations[key] = found
    return found


def digest(value: int | None) -> str | None:
    if value is None:
        return None
    raw = value.to_bytes(16, "little", signed=True)
    return hashlib.blake2b(raw, key=_DIGEST_KEY, digest_size=8).hexdigest()


def _statement_text(sql: Any) -> str:
    if isinstance(sql, bytes):
        return sql.decode("utf-8", "replace")
    return sql if isinstance(sql, str) else str(sql)


def convert_span(raw: tuple[Any, ...]) -> Span:
    kind, start, duration, frames, framework = raw[:5]
    stack = [location(code, line) for code, line in frames]
    span = Span(
        kind=kind,
        start_ms=start * 1000.0,
        duration_ms=duration * 1000.0,
        location=stack[0] if stack else None,
        stack=stack,
        framework=framework,
    )
    if kind == "db":
        system, sql, pkey, params, rows, connection_id = raw[5:11]
        norm = normalize(_statement_text(sql))
        span.system = system
        span.statement = norm.statement
        span.fingerprint = norm.fingerprint
        span.params_digest = digest(pkey)
        span.rows = rows
        span.connection_id = connection_id
        if params is not None:
            span.attrs["params"] = repr(params)
    elif len(raw) > 5 and isinstance(raw[5], dict):
        span.attrs.update(raw[5])
    return span


def convert(active: ActiveTrace) -> Trace:
    end = active.finished if active.finished is not None else active.start
    attrs = dict(active.attrs)
    cpu_ms = attrs.pop("cpu_ms", None)
    if active.dropped:
        attrs["dropped_spans"] = active.dropped
    return Trace(
        id=active.id,
        name=active.name,
        kind=active.kind,
        started_at=active.started_at,
        duration_ms=(end - active.start) * 1000.0,
        status=active.status,
        pid=os.getpid(),
        cpu_ms=cpu_ms,
        spans=[convert_span(raw) for raw in active.spans],
        attrs=attrs,
    )

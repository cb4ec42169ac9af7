"""One OTLP span → one perfdoctor :class:`~perfdoctor.model.Span` (``db``, ``http`` or ``cache``).

The facts come from semantic-convention attributes and are kept the way
capture keeps them: statements normalised by :mod:`perfdoctor.fingerprint`
(literals out), URLs as templates without their query, cache keys as patterns;
exact values are only ever compared through keyed digests.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from perfdoctor import callsite
from perfdoctor.capture.cache_keys import key_digest, key_pattern
from perfdoctor.capture.offset import offset_param
from perfdoctor.capture.outbound import url_facts
from perfdoctor.capture.privacy import keyed_digest
from perfdoctor.fingerprint import has_placeholders, normalize
from perfdoctor.model import Location, Span
from perfdoctor.otlp import semconv as sc
from perfdoctor.otlp.decode import CLIENT, SERVER, OtlpSpan

# Key-value stores that OpenTelemetry reports with db.system.
CACHE_SYSTEMS = frozenset({"redis", "valkey", "memcached"})
# Database names as perfdoctor's advisor and detectors know them.
_DB_SYSTEMS = {"postgres": "postgresql", "mariadb": "mysql", "sqlite3": "sqlite"}
# Instrumentation scope → the client library (the detectors' fixes name it).
_HTTP_LIBRARIES = {
    "requests": "requests",
    "httpx": "httpx",
    "urllib3": "urllib3",
    "urllib": "urllib",
    "aiohttp_client": "aiohttp",
    "aiohttp-client": "aiohttp",
}
_DB_FRAMEWORKS = ("sqlalchemy", "django")
# A frame of a Python traceback in code.stacktrace.
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')
# Redis commands that store a value with no expiry, whatever their arguments.
_NO_EXPIRY_WRITES = frozenset({"setnx", "getset", "mset", "msetnx", "persist"})
_EXPIRES = {"expire": 1.0, "pexpire": 0.001}


def convert(span: OtlpSpan, start_ms: float, stack_depth: int) -> Span | None:
    """The perfdoctor span for ``span``, or None when it is none of db/http/cache."""
    own = _own(span, start_ms)
    if own is not None:
        return own
    system = sc.text(span.attrs, sc.DB_SYSTEM)
    if system is not None:
        system = system.lower()
        if system in CACHE_SYSTEMS:
            return _cache(span, system, start_ms, stack_depth)
        return _db(span, system, start_ms, stack_depth)
    # An outbound call; a server span below the request's own is its second layer.
    is_call = span.kind == CLIENT or sc.first(span.attrs, sc.URL_FULL) is not None
    if span.kind != SERVER and is_call and sc.first(span.attrs, sc.HTTP_METHOD) is not None:
        return _http(span, start_ms, stack_depth)
    return None


def _base(span: OtlpSpan, kind: str, start_ms: float, stack_depth: int) -> Span:
    stack = stack_of(span.attrs, stack_depth)
    return Span(
        kind=kind,
        start_ms=start_ms,
        duration_ms=(span.end_ns - span.start_ns) / 1e6,
        location=stack[0] if stack else None,
        stack=stack,
    )


# What Django's SQLite backend runs after every query while DEBUG is on, only to
# log the query with its parameters quoted (``last_executed_query``): perfdoctor's
# own capture leaves it out, and a page of 40 queries read as an N+1 of 40 of it.
_DJANGO_QUOTE = re.compile(r"SELECT QUOTE\(\?\)(?:, QUOTE\(\?\))*", re.IGNORECASE)


def _db(span: OtlpSpan, system: str, start_ms: float, stack_depth: int) -> Span | None:
    text = sc.text(span.attrs, sc.DB_STATEMENT)
    if text is not None and system == "sqlite" and _DJANGO_QUOTE.fullmatch(text.strip()):
        return None
    if text is None:
        connection = _connection_span(span.name)
        if connection == "checkout":
            return None
        if connection == "opened":
            opened = _base(span, "db.connect", start_ms, stack_depth)
            opened.system = _DB_SYSTEMS.get(system, system)
            return opened
    out = _base(span, "db", start_ms, stack_depth)
    out.system = _DB_SYSTEMS.get(system, system)
    raw = text or span.name
    normalized = normalize(raw)
    out.statement, out.fingerprint = normalized.statement, normalized.fingerprint
    out.params_digest = _params_digest(span, raw)
    out.rows = sc.integer(span.attrs, sc.DB_ROWS)
    out.framework = next((f for f in _DB_FRAMEWORKS if f in span.scope), None)
    offset = offset_param(raw, None)
    if offset is not None:
        out.attrs["offset"] = offset
    return out


def _params_digest(span: OtlpSpan, raw: str) -> str:
    """Compares parameters without keeping them.

    OpenTelemetry records parameters only when asked (``db.statement.parameters``,
    ``db.query.parameter.*``); a statement without placeholders is its own
    parameters (its literals are in its text). A statement with placeholders
    and no values recorded (``$1`` from node-postgres, ``%s`` from psycopg: what
    instrumentations send by default) tells no two runs apart: each run counts
    as a distinct one, so a query repeated from one place reads as an N+1,
    never as a duplicate.
    """
    params = sc.first(span.attrs, sc.DB_PARAMETERS)
    named = {k: v for k, v in span.attrs.items() if k.startswith(sc.DB_PARAMETER_PREFIX)}
    if params is not None or named:
        return keyed_digest(json.dumps([params, sorted(named.items())], default=str))
    if not has_placeholders(raw):
        return keyed_digest(raw)
    return keyed_digest(f"{span.trace_id}/{span.span_id}")


def _connection_span(name: str) -> str | None:
    """What a db span without a statement is, by its name: "opened" for a new
    connection (node-postgres's ``pg.connect``), "checkout" for a pool handing
    out one it holds (``pg-pool.connect``; SQLAlchemy's ``connect``, which is
    ``Engine.connect``), None for anything else (then its name is its statement)."""
    lower = name.lower()
    if "connect" not in lower:
        return None
    if "pool" in lower or lower == "connect":
        return "checkout"
    return "opened"


def _http(span: OtlpSpan, start_ms: float, stack_depth: int) -> Span:
    out = _base(span, "http", start_ms, stack_depth)
    library = span.scope.rsplit(".", 1)[-1]
    out.system = _HTTP_LIBRARIES.get(library, library or None)
    attrs = span.attrs
    method = (sc.text(attrs, sc.HTTP_METHOD) or "GET").upper()
    url = sc.text(attrs, sc.URL_FULL) or _url_from_parts(attrs)
    out.attrs.update(url_facts(url))
    out.attrs["method"] = method
    status = sc.integer(attrs, sc.HTTP_STATUS)
    error = sc.text(attrs, sc.ERROR_TYPE)
    out.attrs["status"] = status
    if error is not None and (status is None or not error.isdigit()):
        out.attrs["error"] = error
    size = sc.integer(attrs, sc.HTTP_RESPONSE_BYTES)
    if size is not None:
        out.attrs["bytes"] = size
    # No timeout attribute: OpenTelemetry does not record the timeout in effect,
    # and an absent one is "unknown", not "none" (http-no-timeout stays quiet).
    return out


def _url_from_parts(attrs: dict[str, Any]) -> str:
    scheme = sc.text(attrs, sc.URL_SCHEME) or "http"
    host = sc.text(attrs, sc.SERVER_ADDRESS) or ""
    port = sc.integer(attrs, sc.SERVER_PORT)
    if port is not None and ":" not in host:
        host = f"{host}:{port}"
    path = sc.text(attrs, sc.URL_PATH) or sc.text(attrs, sc.HTTP_TARGET) or "/"
    return f"{scheme}://{host}{path}"


def _cache(span: OtlpSpan, system: str, start_ms: float, stack_depth: int) -> Span:
    out = _base(span, "cache", start_ms, stack_depth)
    out.system = system
    statement = sc.text(span.attrs, sc.DB_STATEMENT) or ""
    words = _words(statement)
    op = (sc.text(span.attrs, sc.DB_OPERATION) or (words[0] if words else span.name)).lower()
    op = op.split(" ", 1)[0]
    out.attrs.update(cache_attrs(system, op, words[1:]))
    return out


def _words(statement: str) -> list[str]:
    try:
        return shlex.split(statement)
    except ValueError:
        return statement.split()


def cache_attrs(system: str, op: str, args: list[str]) -> dict[str, Any]:
    """What capture keeps of a command, from the arguments the span shows.

    The redis instrumentation replaces arguments with ``?`` unless told not to:
    then the key is unknown, and so is an expiry given by options.
    """
    attrs: dict[str, Any] = {"system": system, "op": op}
    known = bool(args) and "?" not in args
    if known:
        attrs["key"] = key_pattern(args[0])
        attrs["key_digest"] = key_digest(args[0])
    if op in _NO_EXPIRY_WRITES:
        attrs["ttl"] = None
    elif op == "set" and len(args) == 2:
        attrs["ttl"] = None  # SET key value: no expiry, whatever the two are
    elif op in ("set", "setex", "psetex") and len(args) > 2:
        ttl = _set_expiry(op, args) if known else None
        if ttl is not None:
            attrs["ttl"] = ttl
        elif not known:
            # An expiry may be among options the span does not show: counted as
            # kept, so cache-no-ttl never reports a write it cannot see.
            attrs["ttl_kept"] = True
            attrs["expiry_unrecorded"] = True
        else:
            attrs["ttl"] = None
    elif op in _EXPIRES and len(args) > 1 and known:
        seconds = _number(args[1])
        if seconds is not None:
            attrs["ttl"] = seconds * _EXPIRES[op]
    return attrs


def _set_expiry(op: str, args: list[str]) -> float | None:
    if op in ("setex", "psetex"):
        seconds = _number(args[1])
        return None if seconds is None else seconds * (1.0 if op == "setex" else 0.001)
    options = [a.lower() for a in args[2:]]
    for index, word in enumerate(options[:-1]):
        number = _number(options[index + 1])
        if word == "ex" and number is not None:
            return number
        if word == "px" and number is not None:
            return number / 1000.0
    return None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def stack_of(attrs: dict[str, Any], depth: int) -> list[Location]:
    """Call site from code.* attributes, then user frames of code.stacktrace (innermost first)."""
    stack: list[Location] = []
    path = sc.text(attrs, sc.CODE_FILE)
    line = sc.integer(attrs, sc.CODE_LINE)
    if path and line:
        function = sc.text(attrs, sc.CODE_FUNCTION) or "?"
        namespace = sc.text(attrs, sc.CODE_NAMESPACE)
        if namespace and "." not in function:
            function = f"{namespace}.{function}"
        stack.append(Location(path, line, function))
    trace_text = sc.text(attrs, sc.CODE_STACKTRACE)
    if trace_text:
        frames = [Location(p, int(n), f) for p, n, f in _FRAME.findall(trace_text)]
        for frame in reversed(frames):  # a Python traceback lists the outermost first
            if callsite.classify(frame.path) == callsite.USER and frame not in stack:
                stack.append(frame)
    return stack[:depth]


def _own(span: OtlpSpan, start_ms: float) -> Span | None:
    """A span written by ``perfdoctor export otlp``: its facts, exactly."""
    raw = span.attrs.get(sc.PERFDOCTOR_SPAN)
    if not isinstance(raw, str):
        return None
    try:
        data = json.loads(raw)
        stack = [Location(str(p), int(n), str(f)) for p, n, f in data.get("stack") or []]
        return Span(
            kind=str(data["kind"]),
            start_ms=start_ms,
            duration_ms=(span.end_ns - span.start_ns) / 1e6,
            location=stack[0] if stack else None,
            stack=stack,
            framework=data.get("framework"),
            system=data.get("system"),
            statement=data.get("statement"),
            fingerprint=data.get("fingerprint"),
            params_digest=data.get("params_digest"),
            rows=data.get("rows"),
            connection_id=data.get("connection_id"),
            attrs=dict(data.get("attrs") or {}),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None

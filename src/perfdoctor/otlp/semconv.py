"""OpenTelemetry semantic-convention attribute names, stable first, then the older ones.

Instrumentations emit the old names by default and the stable ones under
``OTEL_SEMCONV_STABILITY_OPT_IN`` (``http``, ``database``, or ``*/dup`` for
both); spans from any of them are read alike.
"""

from __future__ import annotations

from typing import Any

DB_SYSTEM = ("db.system.name", "db.system")
DB_STATEMENT = ("db.query.text", "db.statement")
DB_OPERATION = ("db.operation.name", "db.operation")
DB_ROWS = ("db.response.returned_rows",)
DB_PARAMETERS = ("db.statement.parameters",)
DB_PARAMETER_PREFIX = "db.query.parameter."

HTTP_METHOD = ("http.request.method", "http.method")
HTTP_STATUS = ("http.response.status_code", "http.status_code")
HTTP_ROUTE = ("http.route",)
HTTP_RESPONSE_BYTES = ("http.response.body.size", "http.response_content_length")
URL_FULL = ("url.full", "http.url")
URL_SCHEME = ("url.scheme", "http.scheme")
URL_PATH = ("url.path",)
URL_QUERY = ("url.query",)
HTTP_TARGET = ("http.target",)
# Of the peer a client called (net.host.* names the caller's own host).
SERVER_ADDRESS = ("server.address", "net.peer.name", "http.host")
SERVER_PORT = ("server.port", "net.peer.port")
ERROR_TYPE = ("error.type",)
RESPONSE_HEADER_PREFIX = "http.response.header."

CODE_FILE = ("code.file.path", "code.filepath")
CODE_LINE = ("code.line.number", "code.lineno")
CODE_FUNCTION = ("code.function.name", "code.function")
CODE_NAMESPACE = ("code.namespace",)
CODE_STACKTRACE = ("code.stacktrace",)

USER_ID = ("user.id", "enduser.id")
SERVICE_NAME = "service.name"
PROCESS_PID = "process.pid"

# perfdoctor's own attributes, written by ``perfdoctor export otlp``: the facts
# semantic conventions have no name for (digests, connection ids, call stacks),
# so that export then import gives the same findings.
PERFDOCTOR_SPAN = "perfdoctor.span"
PERFDOCTOR_TRACE = "perfdoctor.trace"
# On the resource: the ORM catalogs its traces name in attrs["orm"], as a JSON
# object of content id -> catalog (once per resource, not per trace).
PERFDOCTOR_ORM = "perfdoctor.orm"


def first(attrs: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The value under the first of ``names`` present (stable name before the old one)."""
    for name in names:
        value = attrs.get(name)
        if value is not None and value != "":
            return value
    return None


def text(attrs: dict[str, Any], names: tuple[str, ...]) -> str | None:
    value = first(attrs, names)
    if isinstance(value, list):  # header values come as arrays
        value = value[0] if value else None
    return None if value is None else str(value)


# What SQLite stores as an integer: a status or a size past it is garbage anyway.
INT64 = 2**63


def integer(attrs: dict[str, Any], names: tuple[str, ...]) -> int | None:
    value = first(attrs, names)
    if isinstance(value, bool) or not isinstance(value, (int, str, float)):
        return None
    try:
        number = int(value)
    except (ValueError, OverflowError):  # not a number; infinity
        return None
    return number if -INT64 <= number < INT64 else None

"""GraphQL: each operation names the request's trace (``POST /graphql query PostList``).

Strawberry, Graphene (graphene-django) and Ariadne all execute through
graphql-core, so the one place that sees every operation of all three, sync or
async, batched or not, is graphql-core's executor: ``execute_operation`` is
wrapped on ``ExecutionContext`` (graphql-core 3.2) or ``Executor`` (3.3).  The
operation is read from the parsed document the executor holds: its type and
name, or for an anonymous one a hash of the document with its literals taken
out.  Neither the document text nor the variables are kept.

The request's trace is renamed when the trace is written (see
:func:`trace_name`): the web framework sets the route's name only as the
request ends.  Inside a test's, a job's or a script's trace the operations are
listed in ``attrs["graphql"]`` and the name is left alone.

Ariadne's own ASGI and WSGI apps are served without any framework perfdoctor
traces: :func:`install_ariadne_asgi` and :func:`install_ariadne_wsgi` give them
the generic middleware.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture import context

_MARK = "__perfdoctor_original__"
# Operations of one batched request kept by name; the count goes on past it.
_MAX_OPERATIONS = 20
# document text -> its hash; the same few documents come back on every request.
_hashes: dict[str, str] = {}
_MAX_HASHES = 2048


def install(module: ModuleType) -> None:
    """Wrap the executor class of graphql-core 3.2 (``graphql.execution.execute``)
    or 3.3 (``graphql.execution.executor``), whichever ``module`` holds."""
    cls = getattr(module, "Executor", None) or getattr(module, "ExecutionContext", None)
    original = getattr(cls, "__dict__", {}).get("execute_operation")
    if cls is None or original is None or hasattr(original, _MARK):
        return

    def execute_operation(self: Any, *args: Any, **kwargs: Any) -> Any:
        _started(self)
        return original(self, *args, **kwargs)

    setattr(execute_operation, _MARK, original)
    cls.execute_operation = execute_operation


def _started(executor: Any) -> None:
    try:
        if not context.state.enabled:
            return
        trace = context.current()  # a request's, a test's, a job's or the script's
        if trace is None:
            return
        found = trace.attrs.get("graphql")
        if not isinstance(found, dict):
            found = trace.attrs["graphql"] = {
                "library": library(executor.schema),
                "operations": [],
                "count": 0,
            }
        found["count"] += 1
        if len(found["operations"]) < _MAX_OPERATIONS:
            found["operations"].append(operation_label(executor.operation, executor.fragments))
    except Exception:  # never break the app over a name
        pass


def operation_label(operation: Any, fragments: Any = None) -> str:
    """``query PostList``; ``query 1f3a9c0e`` for an anonymous operation."""
    kind = getattr(getattr(operation, "operation", None), "value", None) or "query"
    name = getattr(getattr(operation, "name", None), "value", None)
    if name:
        return f"{kind} {name}"
    return f"{kind} {document_hash(operation, fragments)}"


def document_hash(operation: Any, fragments: Any = None) -> str:
    """8 hex digits of the document's tokens, literals replaced: the same shape of
    query has the same hash whatever ids or strings it was written with, and the
    hash tells nothing of those values."""
    loc = getattr(operation, "loc", None)
    body = getattr(getattr(loc, "source", None), "body", None)
    if not isinstance(body, str):
        from graphql import print_ast

        parts = [operation, *(fragments or {}).values()]
        body = "\n".join(print_ast(p) for p in parts)
    found = _hashes.get(body)
    if found is None:
        found = hashlib.sha256(" ".join(_tokens(body)).encode("utf-8")).hexdigest()[:8]
        if len(_hashes) >= _MAX_HASHES:
            _hashes.clear()
        _hashes[body] = found
    return found


_LITERALS = frozenset({"STRING", "BLOCK_STRING", "INT", "FLOAT"})


def _tokens(body: str) -> list[str]:
    """The document's tokens as graphql-core reads them (no comments, no layout),
    each literal value written as ``?``."""
    from graphql.language import Lexer, Source, TokenKind

    lexer = Lexer(Source(body))
    out: list[str] = []
    token = lexer.advance()
    while token.kind != TokenKind.EOF:
        kind = token.kind.name
        out.append("?" if kind in _LITERALS else (token.value or token.kind.value))
        token = lexer.advance()
    return out


def library(schema: Any) -> str:
    """Which library built the schema: the fix names its DataLoader."""
    if hasattr(schema, "_strawberry_schema"):
        return "strawberry"
    query = getattr(schema, "query_type", None)
    if type(query).__module__.startswith("graphene"):
        return "graphene"
    if "ariadne" in sys.modules:
        return "ariadne"
    return "graphql-core"


def trace_name(name: str, attrs: dict[str, Any]) -> str:
    """The request's name followed by its operation: ``POST /graphql query PostList``.

    A batch of operations in one request is named by its first, with how many
    more ran: ``POST /graphql query PostList (+2 batched)``; all of them are in
    ``attrs["graphql"]["operations"]``.
    """
    found = attrs.get("graphql")
    if not isinstance(found, dict) or not found.get("operations"):
        return name
    label = f"{name} {found['operations'][0]}"
    more = int(found.get("count", 1)) - 1
    return f"{label} (+{more} batched)" if more > 0 else label


def install_ariadne_asgi(module: ModuleType) -> None:
    """``ariadne.asgi.GraphQL`` served on its own (``uvicorn app:graphql_app``): a
    trace per request; mounted in a Starlette or FastAPI app, it joins that trace."""
    from perfdoctor.capture.asgi import TraceMiddleware

    cls = getattr(module, "GraphQL", None)
    original = getattr(cls, "__dict__", {}).get("__call__")
    if cls is None or original is None or hasattr(original, _MARK):
        return

    async def __call__(self: Any, scope: Any, receive: Any, send: Any) -> None:
        await TraceMiddleware(lambda s, r, w: original(self, s, r, w), "ariadne")(
            scope, receive, send
        )

    setattr(__call__, _MARK, original)
    cls.__call__ = __call__


def install_ariadne_wsgi(module: ModuleType) -> None:
    """``ariadne.wsgi.GraphQL`` served on its own (gunicorn, wsgiref): as for ASGI."""
    from perfdoctor.capture import wsgi

    cls = getattr(module, "GraphQL", None)
    original = getattr(cls, "__dict__", {}).get("__call__")
    if cls is None or original is None or hasattr(original, _MARK):
        return

    def __call__(self: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return wsgi.traced_call(
            lambda e, s: original(self, e, s), environ, start_response, _framework
        )

    setattr(__call__, _MARK, original)
    cls.__call__ = __call__


def _framework(trace: context.ActiveTrace, environ: dict[str, Any]) -> None:
    trace.attrs.setdefault("framework", "ariadne")

"""The fix for a repeated query: resolved against the models, written for its ORM."""

from __future__ import annotations

import linecache

from perfdoctor.model import Span, Trace
from perfdoctor.orm import fix_django, fix_raw, fix_sqlalchemy
from perfdoctor.orm.fix_raw import Fix
from perfdoctor.orm.resolve import Resolution, resolve
from perfdoctor.orm.shape import Shape, shape

__all__ = ["Fix", "fix_for", "write"]

_WRITERS = {"django": fix_django.write, "sqlalchemy": fix_sqlalchemy.write}


def call_site_source(span: Span) -> str:
    """The line of user code the query came from: the attribute names it reads
    tell relations that fit the SQL alike apart (``.author`` or ``.editor``)."""
    if span.location is None:
        return ""
    return linecache.getline(span.location.path, span.location.line).strip()


def write(res: Resolution) -> Fix:
    writer = _WRITERS.get(res.framework or "")
    if writer is None:
        return fix_raw.raw(res)  # the driver called directly: no ORM to write for
    if res.catalog is None:
        return fix_raw.look_for(res)
    return writer(res)


def shapes_before(trace: Trace, child: Span) -> list[Shape]:
    """The distinct reads the trace ran before ``child``."""
    statements: set[tuple[str, str | None]] = set()
    for span in trace.spans:
        if span is child:
            break
        if span.kind == "db" and span.statement:
            statements.add((span.statement, span.system))
    return [s for s in (shape(st, system) for st, system in statements) if s is not None]


def fix_for(trace: Trace, child: Span, parent: Span | None) -> Fix:
    """The fix for the N+1 whose first repeated query is ``child``, from trace.orm."""
    if not trace.orm:
        return write(resolve(child, parent, ()))
    earlier = shapes_before(trace, child)
    loaded = frozenset(t for s in earlier for t in s.tables)
    source = call_site_source(child)
    return write(resolve(child, parent, trace.orm, source, loaded, earlier))

"""The fix for a repeated query: resolved against the models, written for its ORM."""

from __future__ import annotations

import linecache

from perfdoctor.model import Span, Trace
from perfdoctor.orm import fix_django, fix_raw, fix_sqlalchemy
from perfdoctor.orm.fix_raw import Fix
from perfdoctor.orm.resolve import Resolution, resolve
from perfdoctor.orm.shape import shape

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


def tables_before(trace: Trace, child: Span) -> frozenset[str]:
    """Tables the trace's queries read before ``child``."""
    statements: set[tuple[str, str | None]] = set()
    for span in trace.spans:
        if span is child:
            break
        if span.kind == "db" and span.statement:
            statements.add((span.statement, span.system))
    tables: set[str] = set()
    for statement, system in statements:
        found = shape(statement, system)
        if found is not None:
            tables |= found.tables
    return frozenset(tables)


def fix_for(trace: Trace, child: Span, parent: Span | None) -> Fix:
    """The fix for the N+1 whose first repeated query is ``child``, from trace.orm."""
    if not trace.orm:
        return write(resolve(child, parent, ()))
    loaded = tables_before(trace, child)
    return write(resolve(child, parent, trace.orm, call_site_source(child), loaded))

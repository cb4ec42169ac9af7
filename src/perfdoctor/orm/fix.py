"""The fix for a repeated query: resolved against the models, written for its ORM."""

from __future__ import annotations

import linecache
from collections.abc import Sequence

from perfdoctor.model import Span
from perfdoctor.orm import fix_django, fix_raw, fix_sqlalchemy
from perfdoctor.orm.catalog import Catalog
from perfdoctor.orm.fix_raw import Fix
from perfdoctor.orm.resolve import Resolution, resolve

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


def fix_for(child: Span, parent: Span | None, catalogs: Sequence[Catalog]) -> Fix:
    """The fix for the N+1 whose first repeated query is ``child``."""
    return write(resolve(child, parent, catalogs, call_site_source(child)))

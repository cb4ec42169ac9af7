"""The fix for a repeated query: resolved against the models, written for its ORM."""

from __future__ import annotations

import dataclasses
import linecache
from collections.abc import Callable

from perfdoctor.model import Location, Span, Trace
from perfdoctor.orm import fix_django, fix_graphql, fix_raw, fix_sqlalchemy
from perfdoctor.orm.fix_raw import Fix
from perfdoctor.orm.resolve import Resolution, resolve
from perfdoctor.orm.shape import Shape, shape
from perfdoctor.triggers import GRAPHQL, template_line

__all__ = ["Fix", "fix_for", "write"]

Writer = Callable[[Resolution], Fix]
# Per ORM: (a relation's fix or None, a deferred field's, a lookup's per row).
_WRITERS: dict[str, tuple[Callable[[Resolution], Fix | None], Writer, Writer]] = {
    "django": (fix_django.write_relation, fix_django.write_deferred, fix_django.write_lookup),
    "sqlalchemy": (
        fix_sqlalchemy.write_relation,
        fix_sqlalchemy.write_deferred,
        fix_sqlalchemy.write_lookup,
    ),
}


def call_site_source(span: Span) -> str:
    """The line of user code the query came from: the attribute names it reads
    tell relations that fit the SQL alike apart (``.author`` or ``.editor``)."""
    # A template line that loads each row itself ({{ page.image }}) names the
    # relation; the view's render call around it does not.
    found = template_line(span.attrs.get("trigger"), own=True)
    if found is not None:
        return linecache.getline(*found).strip()
    if span.location is None:
        return ""
    return linecache.getline(span.location.path, span.location.line).strip()


def write(res: Resolution) -> Fix:
    fix = _write(res)
    named = tuple(dict.fromkeys(f"{p[-1].owner.name}.{p[-1].relation.name}" for p in res.paths))
    return dataclasses.replace(fix, relations=named) if named else fix


def _write(res: Resolution) -> Fix:
    writers = _WRITERS.get(res.framework or "")
    if writers is None:
        return fix_raw.raw(res)  # the driver called directly: no ORM to write for
    if res.catalog is None:
        return fix_raw.look_for(res)
    relation, deferred, lookup = writers
    fix = relation(res)
    if fix is None and res.kind == "deferred" and res.target is not None:
        fix = deferred(res)
    if fix is None and res.kind in ("lookup", "count", "exists") and res.target is not None:
        fix = lookup(res)
    if fix is None and res.kind == "tree_children" and res.framework == "django":
        fix = fix_django.write_tree_children(res)
    return fix or fix_raw.look_for(res)


def statements_before(trace: Trace, child: Span) -> frozenset[tuple[str, str | None]]:
    """The distinct statements (and their systems) the trace ran before ``child``."""
    statements: set[tuple[str, str | None]] = set()
    for span in trace.spans:
        if span is child:
            break
        if span.kind == "db" and span.statement:
            statements.add((span.statement, span.system))
    return frozenset(statements)


def shapes_before(trace: Trace, child: Span) -> list[Shape]:
    """The distinct reads the trace ran before ``child``."""
    return _shapes(statements_before(trace, child))


def _shapes(statements: frozenset[tuple[str, str | None]]) -> list[Shape]:
    return [s for s in (shape(st, system) for st, system in statements) if s is not None]


def fix_for(
    trace: Trace,
    child: Span,
    parent: Span | None,
    *,
    library_loop: bool = False,
    root: Location | None = None,
) -> Fix:
    """The fix for the N+1 whose first repeated query is ``child``, from trace.orm.

    ``library_loop``: no loop of the user's repeats it; a GraphQL executor resolving
    a list field then gets its own fix (see :mod:`perfdoctor.orm.fix_graphql`),
    naming ``root``: the line of the resolver that returned the list.
    """
    if not trace.orm:
        res, fix = _without_models(child, parent)
    else:
        res, fix = _with_models(trace, child, parent)
    trigger = child.attrs.get("trigger")
    if library_loop and isinstance(trigger, dict) and trigger.get("kind") == GRAPHQL:
        about = trace.attrs.get("graphql")
        library = about.get("library") if isinstance(about, dict) else None
        return fix_graphql.write(fix, res, trigger, library, root)
    return fix


# With the app's models a fix depends on the two queries, the call site's line,
# the models and the reads the request ran before the loop: resolved once per
# distinct set of those.  A list page's N+1 comes back in every request of it,
# and a resolution walks the model graph: Wagtail's bakery demo took ~3 ms a
# walk, 93% of a report of 3,000 requests.  Shared as _NO_MODELS' are.
_WITH_MODELS: dict[tuple[object, ...], tuple[tuple[object, ...], Resolution, Fix]] = {}
_MOST_WITH_MODELS = 4096


def _with_models(trace: Trace, child: Span, parent: Span | None) -> tuple[Resolution, Fix]:
    before = statements_before(trace, child)
    source = call_site_source(child)
    catalogs = trace.orm
    key = (
        *_queries(child, parent),
        # The catalogs by identity (a store's traces share each parsed one), held
        # with the entry so that an id is theirs.
        tuple(map(id, catalogs)),
        source,
        before,
    )
    found = _WITH_MODELS.get(key)
    if found is not None and all(a is b for a, b in zip(found[0], catalogs)):
        return found[1], found[2]
    earlier = _shapes(before)
    loaded = frozenset(t for s in earlier for t in s.tables)
    res = resolve(child, parent, catalogs, source, loaded, earlier)
    fix = write(res)
    if len(_WITH_MODELS) >= _MOST_WITH_MODELS:
        _WITH_MODELS.clear()
    _WITH_MODELS[key] = (catalogs, res, fix)
    return res, fix


# Without the app's models a fix depends only on these fields of the two queries:
# found once per distinct pair (a loop runs in every request of its endpoint).
# Shared: a Fix is frozen and its machine dict only read (fix_graphql copies it).
_NO_MODELS: dict[tuple[str | None, ...], tuple[Resolution, Fix]] = {}
_MOST_NO_MODELS = 4096


def _queries(child: Span, parent: Span | None) -> tuple[str | None, ...]:
    """What a fix reads of the two queries."""
    return (
        child.statement,
        child.system,
        child.framework,
        parent.statement if parent else None,
        parent.system if parent else None,
    )


def _without_models(child: Span, parent: Span | None) -> tuple[Resolution, Fix]:
    key = _queries(child, parent)
    found = _NO_MODELS.get(key)
    if found is None:
        if len(_NO_MODELS) >= _MOST_NO_MODELS:
            _NO_MODELS.clear()
        res = resolve(child, parent, ())
        found = _NO_MODELS[key] = (res, write(res))
    return found

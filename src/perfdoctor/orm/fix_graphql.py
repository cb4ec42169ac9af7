"""The fix for an N+1 whose loop is a GraphQL executor resolving a list field.

No loop of the user's repeats the query: the executor calls the field's
resolver once per item of the list a resolver above returned.  The two fixes
that fit are the eager load of the ORM fix, put in that root resolver (the one
that returns the list: ``Query.posts``), and a DataLoader of the app's GraphQL
library, which batches the field's resolver by key.  The ORM fix's text is
rewritten to name the root resolver where it says "the loop", and the
DataLoader is added (first, when the ORM fix was to batch by key anyway).
``Fix.machine`` gains ``graphql``: the field, the root resolver and the
DataLoader class.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

from perfdoctor.model import Location
from perfdoctor.orm.fix_raw import Fix
from perfdoctor.orm.resolve import Resolution

# Per library: the DataLoader it documents, where the per-request loader is made,
# how a resolver hands its result back, and what else to know.
_LOADERS: dict[str, tuple[str, str, str, str]] = {
    "strawberry": ("strawberry.dataloader.DataLoader", "the context getter", "returns await", ""),
    "graphene": (
        "aiodataloader.DataLoader",
        "the context",
        "returns",
        " It needs async execution: with graphene-django's sync GraphQLView the eager load "
        "is the fix (graphene 2's promise.dataloader.DataLoader batches in sync views).",
    ),
    "ariadne": ("aiodataloader.DataLoader", "the context_value callable", "returns await", ""),
}
_ANY_LOADER = ("a DataLoader", "the request's context", "returns", "")
_LOOP = re.compile(r"the (queryset|query) the loop iterates")
# Fix kinds whose text batches by key "before the loop": a DataLoader is that batch.
_BATCHES = frozenset({"batch", "batch_children"})


def write(
    fix: Fix,
    res: Resolution,
    trigger: dict[str, Any],
    library: str | None,
    root: Location | None = None,
) -> Fix:
    """``fix`` written for the GraphQL field in ``trigger``; unchanged for a
    membership check (the check changes, not the list).  ``root``: the line of
    the root resolver that builds the list's query."""
    machine = dict(fix.machine or {})
    kind = machine.get("kind")
    if kind == "membership":
        return fix
    field = f"{trigger.get('type', '?')}.{trigger.get('field', '?')}"
    feeder = trigger.get("feeder")
    feeder = feeder if isinstance(feeder, dict) else None
    where = root_resolver(feeder, root) or (
        f"the resolver that returns the {trigger.get('type')} list"
    )
    loader = _loader(res, field, library)
    resolved = f"The GraphQL executor resolves {field} once per {trigger.get('type', 'row')}"
    if kind in _BATCHES or "before the loop" in fix.text:
        text = f"{resolved}: batch it with {loader}"
        if not _query(res):
            # What the ORM fix batches before a loop is what the load function runs.
            text += f" For the load function, as for a loop: {fix.text}"
    elif kind == "deferred":
        text = _LOOP.sub(rf"the \1 {where} returns", fix.text)
    else:
        text = f"{resolved}. " + _LOOP.sub(rf"the \1 {where} returns", fix.text)
        text += f" Or batch {field} with {loader}"
    machine["graphql"] = {
        "field": field,
        "root_resolver": (
            {
                **{k: feeder[k] for k in ("type", "field", "path", "function") if k in feeder},
                "line": root.line if root is not None else feeder.get("line"),
            }
            if feeder
            else None
        ),
        "dataloader": _LOADERS.get(library or "", _ANY_LOADER)[0],
    }
    return dataclasses.replace(fix, text=text, machine=machine)


def root_resolver(feeder: dict[str, Any] | None, root: Location | None) -> str | None:
    """``the root resolver Query.posts (schema.py:41)``."""
    if not feeder or not feeder.get("path"):
        return None
    path, line = (root.path, root.line) if root is not None else (feeder["path"], feeder["line"])
    where = f"{os.path.basename(str(path))}:{line}"
    return f"the root resolver {feeder.get('type')}.{feeder.get('field')} ({where})"


def _loader(res: Resolution, field: str, library: str | None) -> str:
    """A DataLoader of the library, keyed as the field's rows are; one sentence or two."""
    cls, made, returns, note = _LOADERS.get(library or "", _ANY_LOADER)
    key, expression = _key(res)
    name = cls if cls.startswith("a ") else f"a DataLoader ({cls})"
    return (
        f"{name} keyed by {key}, one per request made in {made}: its load function gets "
        f"every key the executor asked for at once and fetches them in one query"
        f"{_query(res)}, and the resolver of {field} {returns} loader.load({expression}).{note}"
    )


def _key(res: Resolution) -> tuple[str, str]:
    """What the loader is keyed by, and the expression the resolver loads."""
    if res.paths and len(res.paths[0]) == 1:
        step = res.paths[0][0]
        if not step.relation.to_many and step.relation.column:
            attr = step.owner.fields.get(step.relation.column, step.relation.column)
            # Django's catalog maps a foreign key's column to the relation itself.
            attr = step.relation.column if attr == step.relation.name else attr
            return f"root.{attr}", f"root.{attr}"
        pk = step.owner.pk[0] if len(step.owner.pk) == 1 else None
        if pk:
            attr = step.owner.fields.get(pk, pk)
            return f"root.{attr}", f"root.{attr}"
    column = res.fields[0] if res.kind == "lookup" and res.fields else res.column
    if column:
        return f"the {column} it looks up", "key"
    return "the key it looks up", "key"


def _query(res: Resolution) -> str:
    """`` (Author.objects.in_bulk(keys))``: the one query, when it is a plain one."""
    if not (res.paths and len(res.paths[0]) == 1):
        if res.kind == "lookup" and res.target is not None and res.fields:
            name, attr = res.target.name, res.fields[0]
            if res.framework == "django":
                return f" ({name}.objects.filter({attr}__in=keys))"
            if res.framework == "sqlalchemy":
                return f" (select({name}).where({name}.{attr}.in_(keys)))"
        if not res.aggregate and res.table and res.column:
            return f" (WHERE {res.column} IN (...) on {res.table})"
        return ""
    step = res.paths[0][0]
    target = step.target
    if target is None:
        return ""
    pk = target.fields.get(target.pk[0], target.pk[0]) if len(target.pk) == 1 else None
    if res.framework == "django":
        if not step.relation.to_many:
            return f" ({target.name}.objects.in_bulk(keys))"
        back = step.relation.remote_column
        if back and step.relation.kind == "reverse_fk":
            return f" ({target.name}.objects.filter({back}__in=keys), grouped by .{back})"
        return ""
    if res.framework == "sqlalchemy" and pk:
        if not step.relation.to_many:
            return f" (select({target.name}).where({target.name}.{pk}.in_(keys)))"
        back = step.relation.remote_column
        if back:
            attr = target.fields.get(back, back)
            return (
                f" (select({target.name}).where({target.name}.{attr}.in_(keys)), "
                f"grouped by .{attr})"
            )
    return ""

"""The GraphQL field whose resolver ran a query, and the resolver that fed it its rows.

graphql-core's executor resolves a list field by calling the next field's
resolver once per item: the loop of a GraphQL N+1 is the library's, like a DRF
serializer's.  On the frame that calls a resolver, :func:`extract` reads the
field being resolved (``Post.author``) and, from the response path, the fields
above it that returned a list (``Query.posts``) and the root field: names and
schema objects, never a value, a variable or the document.  :func:`describe`,
in the recorder's thread, finds the user's function behind each resolver
(Strawberry, Graphene and Ariadne each wrap it their own way) and writes the
span's ``trigger`` attribute::

    {"kind": "graphql-field", "type": "Post", "field": "author",
     "resolver": {"path": ".../schema.py", "line": 30, "function": "Post.author"},
     "feeder": {"type": "Query", "field": "posts", "path": ".../schema.py",
                "line": 41, "function": "Query.posts"}}

``resolver`` is missing when the field has the library's default resolver (an
attribute read); ``feeder`` is the nearest field above with a resolver of the
user's: where an eager load or a DataLoader goes.
"""

from __future__ import annotations

import functools
import os
from collections import deque
from types import FrameType
from typing import Any

KIND = "graphql-field"

# How many list fields above the resolved one are kept: the nearest with a
# resolver of the user's is the feeder.
_MAX_FEEDERS = 4
# Wrappers unwrapped, at most, to reach the user's function behind a resolver.
_MAX_UNWRAP = 24
# Strawberry's back-reference from a graphql-core field to its own definition.
_STRAWBERRY = "strawberry-definition"


def extract(frame: FrameType) -> tuple[Any, ...] | None:
    """The field being resolved and the fields above it; runs on the query's path,
    so it keeps names and the schema (one long-lived object), nothing per query."""
    info = frame.f_locals.get("info")
    if info is None:
        return None
    above = info.path.prev
    feeders: list[tuple[str, str]] = []
    listed = False  # the segment just below was a list index
    while above is not None and len(feeders) < _MAX_FEEDERS:
        key = above.key
        if key.__class__ is int:
            listed = True
        else:
            if listed or above.prev is None:
                feeders.append((above.typename, key))  # a list field, or the root field
            listed = False
        above = above.prev
    return (KIND, info.parent_type.name, info.field_name, info.schema, tuple(feeders))


def describe(raw: tuple[Any, ...]) -> dict[str, Any] | None:
    """The span's ``trigger``: the field, its resolver and its feeder, if the user's."""
    _, type_name, field_name, schema, feeders = raw
    found: dict[str, Any] = {"kind": KIND, "type": type_name, "field": field_name}
    resolver = user_function(_field(schema, type_name, field_name))
    if resolver is not None:
        found["resolver"] = resolver
    for owner, key in feeders:
        # An aliased field's response key is no field name: it is passed over.
        site = user_function(_field(schema, owner, key))
        if site is not None:
            found["feeder"] = {"type": owner, "field": key, **site}
            break
    return found


def _field(schema: Any, type_name: str | None, name: str) -> Any:
    owner = schema.get_type(type_name) if type_name else None
    return getattr(owner, "fields", {}).get(name)


def user_function(field: Any) -> dict[str, Any] | None:
    """Where the user's function behind a field's resolver is defined, or None when
    the resolver is only the library's (a default attribute read)."""
    from perfdoctor.callsite import USER, classify

    if field is None:
        return None
    pending: deque[Any] = deque([getattr(field, "resolve", None)])
    definition = (getattr(field, "extensions", None) or {}).get(_STRAWBERRY)
    resolver = getattr(definition, "base_resolver", None)
    if resolver is not None:
        pending.appendleft(getattr(resolver, "wrapped_func", None))
    seen: set[int] = set()
    for _ in range(_MAX_UNWRAP):
        if not pending:
            break
        candidate = pending.popleft()
        if candidate is None or id(candidate) in seen:
            continue
        seen.add(id(candidate))
        func = getattr(candidate, "__func__", candidate)  # a bound or static method
        code = getattr(func, "__code__", None)
        if code is not None and classify(code.co_filename) == USER:
            return {
                "path": os.path.abspath(code.co_filename),
                "line": code.co_firstlineno,
                "function": getattr(code, "co_qualname", code.co_name),
            }
        pending.extend(_wrapped(func))
    return None


def _wrapped(func: Any) -> list[Any]:
    """What a library's wrapper calls: a partial's function and arguments, a
    decorator's ``__wrapped__``, the functions a closure holds."""
    inner: list[Any] = []
    if isinstance(func, functools.partial):
        inner.append(func.func)
        inner.extend(a for a in func.args if callable(a))
    wrapped = getattr(func, "__wrapped__", None)
    if wrapped is not None:
        inner.append(wrapped)
    for cell in getattr(func, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if callable(value) and not isinstance(value, type):
            inner.append(value)
    return inner

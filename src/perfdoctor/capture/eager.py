"""Eager loads a request asked for, and whether it read them (``unused-eager-load``).

The ORM integrations (``django_eager.py``, ``sqlalchemy_eager.py``) call
:func:`record` once per eager load an evaluated query carried: a ``orm.eager``
span whose attrs say what was asked (``method``, ``relation``, ``written``...)
and ``used``, false until something reads the loaded relation.  The attrs dict
is kept in the trace by reference, so a read later in the request flips
``used`` in place; the trace is encoded only after it finishes.

Reads are matched two ways:

* per object (Django): each row that carries a ``select_related`` relation, and
  each prefetched collection, is noted by ``id()`` in :data:`objects` with the
  records it may mark; a watched descriptor or queryset read looks its object
  up there.  No reference to the object is kept: an ``id`` reused by a new
  object after the row was freed can only mark a load used, never unused.
* per relation attribute (SQLAlchemy): a read of ``Article.tags`` on any
  instance in the same request marks that request's pending loads of
  ``Article.tags`` (:func:`read_attribute`).

Entries of finished traces are dropped when the next load is recorded, and at
most :data:`max_objects` objects are watched at once (a load past that is not
recorded, so it is never judged).  Nothing here stores a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from perfdoctor.capture import context

KIND = "orm.eager"
# Marks the extra query a relationship loader (selectinload, subqueryload) ran:
# the db span right after it is that query.
QUERY_KIND = "orm.eager.query"

# id(row or prefetched collection) -> {slot: record}; a slot is what reads it
# (a Django descriptor, or "collection").
objects: dict[int, dict[object, dict[str, Any]]] = {}
# relation attribute -> [(trace, record)] not yet read
attributes: dict[object, list[tuple[context.ActiveTrace, dict[str, Any]]]] = {}
# trace id -> (trace, [(entry, the object ids it watches)]) registered for it
_owners: dict[str, tuple[context.ActiveTrace, list[tuple[dict[object, Any], list[int]]]]] = {}
# id(entry) -> the object ids it watches, until all its records are used: then
# they are let go, so a page reading the same prefetched collections hundreds of
# times (a template's loop) looks each up only until its load is known used.
_watching: dict[int, list[int]] = {}
max_objects = 50_000


def _unwatch(entry: dict[object, Any], keys: list[int]) -> None:
    if _watching.get(id(entry)) is keys:
        del _watching[id(entry)]
    for key in keys:
        if objects.get(key) is entry:
            del objects[key]


def _sweep() -> None:
    """Forget what finished traces registered (only entries still theirs)."""
    for trace_id, (trace, owned) in list(_owners.items()):
        if trace.finished is None:
            continue
        _owners.pop(trace_id, None)
        for entry, keys in owned:
            _unwatch(entry, keys)
    if attributes:
        for attr, pending in list(attributes.items()):
            alive = [p for p in pending if p[0].finished is None]
            if alive:
                attributes[attr] = alive
            else:
                attributes.pop(attr, None)


def record(
    trace: context.ActiveTrace,
    attrs: dict[str, Any],
    started: float,
    ended: float,
) -> dict[str, Any]:
    """Append the ``orm.eager`` span of one load; returns its attrs (the record)."""
    attrs["used"] = False
    context.record_span(trace, KIND, started, ended, attrs, skip=1)
    return attrs


def room(count: int) -> bool:
    """Whether ``count`` more objects can be watched; sweeps first."""
    _sweep()
    return len(objects) + count <= max_objects


def watch(trace: context.ActiveTrace, keys: Iterable[int], entry: dict[object, Any]) -> None:
    """Note the objects ``keys`` (ids): a read through a slot of ``entry`` marks its record."""
    owned = _owners.get(trace.id)
    if owned is None:
        owned = _owners[trace.id] = (trace, [])
    ids = list(keys)
    for key in ids:
        objects[key] = entry
    owned[1].append((entry, ids))
    _watching[id(entry)] = ids


def read(key: int, slot: object) -> None:
    """An object was read through ``slot``: its record, if watched, is used."""
    entry = objects.get(key)
    if entry is not None:
        found = entry.get(slot)
        if found is not None and not found["used"]:
            found["used"] = True
            if all(record["used"] for record in entry.values()):
                ids = _watching.get(id(entry))
                if ids is not None:
                    _unwatch(entry, ids)


def watch_attribute(trace: context.ActiveTrace, attr: object, attrs: dict[str, Any]) -> None:
    _sweep()
    attributes.setdefault(attr, []).append((trace, attrs))


def read_attribute(attr: object) -> None:
    """``attr`` was read on some instance: this request's pending loads of it are used."""
    pending = attributes.get(attr)
    if not pending:
        return
    trace = context.current()
    keep = []
    for owner, attrs in pending:
        if owner is trace:
            attrs["used"] = True
        else:
            keep.append((owner, attrs))
    attributes[attr] = keep

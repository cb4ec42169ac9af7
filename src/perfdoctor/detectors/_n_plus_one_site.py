"""Where an N+1 finding points and what it proposes, worked out once per loop.

Every request of an endpoint runs the same loop from the same lines: its loop
line, feeding site, fix and fingerprint are the same answers, from the same
inputs, request after request (a report reads tens of thousands of requests
showing one N+1).  They are kept per (endpoint, repeated query and its call
stack, parent query), with the other inputs they read (the query's attrs, the
request's handler and GraphQL facts) compared before an answer is reused.  A
trace that carries the app's models is not: its fix also reads which queries
ran before (:func:`perfdoctor.orm.fix.shapes_before`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from perfdoctor.detectors._feeder import (
    feeding_site,
    loop_frames,
    root_resolver_site,
    serializer_method,
    template_site,
)
from perfdoctor.detectors._loops import loop_for_stack
from perfdoctor.detectors.base import finding_fingerprint
from perfdoctor.model import Location, Span, Trace
from perfdoctor.orm.fix import Fix, fix_for

# Answers kept at most: one per loop of the app; past that they are dropped
# and worked out again.
_MOST = 4096


class Site(NamedTuple):
    loop: Location | None
    fix: Fix
    location: Location | None
    where: dict[str, Any]
    fingerprint: str


class _Kept(NamedTuple):
    # Held so that the ids in the key stay theirs, and compared before reuse.
    stack: list[Location]
    location: Location | None
    attrs: dict[str, Any]
    handler: object
    graphql: object
    site: Site


_KEPT: dict[tuple[object, ...], _Kept] = {}


def site(detector: str, trace: Trace, first: Span, parent: Span | None) -> Site:
    """The site of the N+1 whose first repeated query is ``first``."""
    if trace.orm:
        return _worked_out(detector, trace, first, parent)
    key = (
        detector,
        trace.name,
        first.fingerprint,
        first.statement,
        first.system,
        first.framework,
        id(first.stack),
        id(first.location),
        parent.statement if parent else None,
        parent.system if parent else None,
        parent is None,
    )
    attrs = trace.attrs
    kept = _KEPT.get(key)
    if (
        kept is not None
        and kept.stack is first.stack
        and kept.location is first.location
        and kept.attrs == first.attrs
        and kept.handler == attrs.get("handler")
        and kept.graphql == attrs.get("graphql")
    ):
        return kept.site
    found = _worked_out(detector, trace, first, parent)
    if len(_KEPT) >= _MOST:
        _KEPT.clear()
    _KEPT[key] = _Kept(
        first.stack, first.location, first.attrs, attrs.get("handler"), attrs.get("graphql"), found
    )
    return found


def _worked_out(detector: str, trace: Trace, first: Span, parent: Span | None) -> Site:
    loop = loop_for_stack(loop_frames(first))
    # The relation named from the app's own models (trace.orm), never from a table name.
    fix = fix_for(
        trace,
        first,
        parent,
        library_loop=loop is None,
        root=root_resolver_site(first.attrs.get("trigger")),
    )
    # A loop in a library (a serializer, a template): the user's line feeding it.
    location, where = feeding_site(trace, first, loop)
    if fix.machine and fix.machine.get("kind") == "membership":
        # The check changes, not the queryset feeding the loop: in a DRF
        # serializer its get_<field> method (where the per-request set is
        # read), else the check's own line (is_following).
        method = serializer_method(where.get("trigger"), first.stack)
        location = method or first.location or location
    fingerprint = finding_fingerprint(detector, trace.name, first.fingerprint, location)
    trigger = first.attrs.get("trigger")
    lines = template_site(trigger, own=True)
    if isinstance(trigger, dict) and lines is not None and lines != location:
        # Two lists of one page, each in its own template line, fed from one
        # render call: two loops to fix, not one finding.  By the template's
        # name, as the app loads it: the same on every machine.
        fingerprint = finding_fingerprint(fingerprint, trigger.get("template"), lines.line)
    return Site(loop, fix, location, where, fingerprint)

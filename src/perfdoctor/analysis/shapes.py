"""A trace's spans grouped by shape: what a detector asks of a statement, a call
site or the attrs, asked once per shape instead of once per span.

The spans of a shape share everything but their times, parameters digest and
rows: kind, framework, system, statement, fingerprint, connection, call stack
and location (the very same objects), and attrs of equal content.  A store's
traces come with their shapes listed (the store writes each shape once per trace:
:class:`perfdoctor.store.layout.ShapedSpans`); traces built in memory (the pytest
plugin, ``--live``, tests) are grouped here, once per trace.

Shapes come in order of their first span, and each shape's spans in trace order,
so a reader that counts in order of first appearance counts as a span-by-span
pass would.  The lists are shared: readers must not change them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from perfdoctor.analysis.pertrace import PerTrace
from perfdoctor.model import Span, Trace
from perfdoctor.store.layout import ShapedSpans, ShapeFamily


def _grouped(trace: Trace) -> list[list[Span]]:
    # Stacks and locations by identity (the readers rely on one object per shape),
    # the rest by value; attrs are dicts: compared among spans of the same key.
    found: dict[tuple[object, ...], list[list[Span]]] = {}
    shapes: list[list[Span]] = []
    for span in trace.spans:
        key = (
            span.kind,
            span.framework,
            span.system,
            span.statement,
            span.fingerprint,
            span.connection_id,
            id(span.stack),
            id(span.location),
        )
        candidates = found.get(key)
        if candidates is None:
            candidates = found[key] = []
        for same in candidates:
            if same[0].attrs == span.attrs:
                same.append(span)
                break
        else:
            shape = [span]
            candidates.append(shape)
            shapes.append(shape)
    return shapes


_by_shape = PerTrace(_grouped)


def decoded(trace: Trace) -> ShapedSpans | None:
    """``trace``'s spans as the store's decoder listed them, None when they were
    not decoded from a store or have changed since."""
    spans = trace.spans
    if type(spans) is ShapedSpans and len(spans) == spans.size:
        return spans
    return None


def shapes(trace: Trace) -> list[list[Span]]:
    """``trace``'s spans by shape (shared: not to be changed)."""
    # (decoded(trace), inline: asked ~8 times per trace.)
    spans = trace.spans
    if type(spans) is ShapedSpans and len(spans) == spans.size:
        return spans.shapes
    return _by_shape(trace)


def screened(trace: Trace, key: object, test: Callable[[Span], bool]) -> bool:
    """Whether ``test`` holds for a span of one of ``trace``'s shapes (what a shape's
    spans share: not their times, parameters or rows), or may: in a store's trace it
    is asked once per shapes text of the read
    (:class:`perfdoctor.store.layout.ShapeFamily`), of all the text's shapes, so a
    shape the trace left unused may make it True.  A screen: a detector that gets
    True looks at the trace itself.  ``key`` names the test and every setting it
    reads; :func:`shape_values` of the same key shares its answers per shape."""
    spans = decoded(trace)
    family = spans.family if spans is not None else None
    if family is None:
        return any(test(runs[0]) for runs in shapes(trace))
    found = family.answers.get(key)
    if found is None:
        found = family.answers[key] = any(_family_values(family, key, test))
    return found


def shape_values(
    trace: Trace, key: object, work_out: Callable[[Span], Any]
) -> tuple[list[list[Span]], list[Any]]:
    """``trace``'s shapes and, for each, ``work_out`` of its first span (of what a
    shape's spans share, as :func:`screened` asks): in a store's trace worked out
    once per shape of the read's family of its shapes text, not once per trace.
    ``key`` names ``work_out`` and every setting it reads."""
    spans = decoded(trace)
    family = spans.family if spans is not None else None
    if spans is None or family is None:
        listed = shapes(trace)
        return listed, [work_out(runs[0]) for runs in listed]
    values = _family_values(family, key, work_out)
    return spans.shapes, [values[place] for place in spans.places]


def _family_values(family: ShapeFamily, key: object, work_out: Callable[[Span], Any]) -> list[Any]:
    """``work_out`` of each of the family's shapes, in its order (worked out once)."""
    values = family.values.get(key)
    if values is None:
        values = family.values[key] = [work_out(first) for first in family.firsts()]
    return values

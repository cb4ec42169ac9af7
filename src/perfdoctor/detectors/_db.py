"""What the database detectors read from a query: its LIMIT, OFFSET, columns,
and what the request answered with."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

from perfdoctor.detectors import _kinds
from perfdoctor.detectors._sql import ANSWERS, _parse, main_table, tables_of
from perfdoctor.detectors.base import finding_fingerprint
from perfdoctor.model import Finding, Severity, Span, Trace

_LIMIT = re.compile(r"\b(LIMIT|FETCH\s+(FIRST|NEXT)|TOP)\b", re.IGNORECASE)
_OFFSET = re.compile(r"\bOFFSET\b", re.IGNORECASE)
_AGGREGATES = (exp.AggFunc,)


def fetched(span: Span) -> int:
    return span.rows or 0


def reads(trace: Trace) -> list[Span]:
    """The trace's read queries, in order (shared between detectors: not to be changed)."""
    return _kinds.reads(trace)


def query_finding(
    detector: str,
    trace: Trace,
    span: Span,
    *,
    severity: Severity,
    title: str,
    evidence: dict[str, object],
    fix: str,
) -> Finding:
    """A finding about one query, at its call site.

    The detectors that judge a single query all report the same facts of it
    after their own (``evidence``), and one finding per statement and call site.
    """
    return Finding(
        id=detector,
        severity=severity,
        title=title,
        endpoint=trace.name,
        location=span.location,
        evidence={
            **evidence,
            "duration_ms": round(span.duration_ms, 3),
            "statement": span.statement,
            "framework": span.framework,
            "system": span.system,
        },
        fix=fix,
        fingerprint=finding_fingerprint(detector, trace.name, span.fingerprint, span.location),
    )


def _select(statement: str, system: str | None) -> exp.Select | None:
    tree = _parse(statement, system)
    if isinstance(tree, exp.Select):
        return tree
    if tree is not None:
        # A UNION or a WITH: its outermost SELECT decides the result's size.
        found = tree.find(exp.Select)
        return found if isinstance(found, exp.Select) else None
    return None


def _has_limit(statement: str, system: str | None) -> bool:
    """Whether the statement's result is capped (LIMIT / FETCH FIRST / TOP)."""
    tree = _parse(statement, system)
    if tree is None:
        return bool(_LIMIT.search(statement))
    # The outermost query's own cap: a LIMIT inside a subquery does not bound it.
    return bool(tree.args.get("limit") or tree.args.get("fetch"))


def _has_offset(statement: str, system: str | None) -> bool:
    tree = _parse(statement, system)
    if tree is None:
        return bool(_OFFSET.search(statement))
    return tree.args.get("offset") is not None


def _is_aggregate(statement: str, system: str | None) -> bool:
    """The query already aggregates (GROUP BY, COUNT, SUM...) in the database."""
    select = _select(statement, system)
    if select is None:
        return False
    if select.args.get("group"):
        return True
    return any(e.find(*_AGGREGATES) is not None for e in select.expressions)


@dataclass(frozen=True)
class Columns:
    """The columns a SELECT loads."""

    star: bool  # SELECT * or t.*
    names: tuple[str, ...]  # the named columns (empty for a bare star)
    tables: tuple[str, ...]


def _columns(statement: str, system: str | None) -> Columns | None:
    select = _select(statement, system)
    if select is None:
        return None
    star = False
    names: list[str] = []
    for expression in select.expressions:
        if isinstance(expression, exp.Star) or (
            isinstance(expression, exp.Column) and isinstance(expression.this, exp.Star)
        ):
            star = True
        elif isinstance(expression, exp.Column):
            names.append(expression.name)
        elif isinstance(expression, exp.Alias) and isinstance(expression.this, exp.Column):
            names.append(expression.this.name)
        else:
            names.append(expression.sql())
    from_ = select.args.get("from") or select.args.get("from_")
    tables = tuple(t.name for t in from_.find_all(exp.Table)) if from_ else ()
    joins = tuple(t.name for j in select.args.get("joins") or [] for t in j.find_all(exp.Table))
    return Columns(star, tuple(names), tables + joins)


@dataclass(frozen=True)
class _Facts:
    limit: bool
    offset: bool
    aggregate: bool
    columns: Columns | None


@ANSWERS
def _facts(statement: str, system: str | None) -> _Facts:
    """Every answer about a statement the detectors ask for, from one parse: the
    trees are kept for the most recent statements only, the answers for all."""
    facts = _Facts(
        _has_limit(statement, system),
        _has_offset(statement, system),
        _is_aggregate(statement, system),
        _columns(statement, system),
    )
    main_table(statement, system)
    tables_of(statement, system)
    return facts


def has_limit(statement: str, system: str | None) -> bool:
    """Whether the statement's result is capped (LIMIT / FETCH FIRST / TOP)."""
    return _facts(statement, system).limit


def has_offset(statement: str, system: str | None) -> bool:
    return _facts(statement, system).offset


def is_aggregate(statement: str, system: str | None) -> bool:
    """The query already aggregates (GROUP BY, COUNT, SUM...) in the database."""
    return _facts(statement, system).aggregate


def columns(statement: str, system: str | None) -> Columns | None:
    """The columns a SELECT loads, None for another statement."""
    return _facts(statement, system).columns


def response_of(trace: Trace) -> tuple[int | None, int | None]:
    """(bytes, items) of the request's response, when capture measured them."""
    response = trace.attrs.get("response")
    if not isinstance(response, dict):
        return None, None
    size, items = response.get("bytes"), response.get("items")
    return (
        size if isinstance(size, int) else None,
        items if isinstance(items, int) else None,
    )


def small_response(trace: Trace, max_bytes: int) -> bool:
    """A successful response whose size is known and small (a few numbers)."""
    size, _items = response_of(trace)
    if size is None or (trace.status is not None and trace.status >= 400):
        return False
    return size <= max_bytes


def framework_of(spans: list[Span]) -> str | None:
    for span in spans:
        if span.framework:
            return span.framework
    return None

"""unbounded-query: a SELECT with no LIMIT that returned many rows."""

from __future__ import annotations

from collections.abc import Iterable

from perfdoctor.analysis.shapes import shape_values
from perfdoctor.detectors import register
from perfdoctor.detectors._db import (
    fetched,
    has_limit,
    is_aggregate,
    query_finding,
    reads,
    small_response,
)
from perfdoctor.detectors._sql import is_read, main_table
from perfdoctor.detectors.base import PerTraceDetector
from perfdoctor.model import Finding, Severity, Span, Trace
from perfdoctor.settings import Settings


def remedy(framework: str | None, table: str | None) -> str:
    if framework == "django":
        return (
            "Return one page: slice the queryset (qs.order_by('id')[:50]), or use "
            "django.core.paginator.Paginator (DRF: a pagination_class). For keyset paging "
            "filter on the last id seen (.filter(id__gt=last_id)[:50]). A batch job that "
            "needs every row should stream it with .iterator(chunk_size=2000)."
        )
    if framework == "sqlalchemy":
        return (
            "Return one page: add .limit(50) to the select (keyset paging: "
            ".where(Model.id > last_id).order_by(Model.id).limit(50)). A batch job that "
            "needs every row should stream it with .execution_options(yield_per=1000) "
            "instead of loading the list at once."
        )
    what = f"the rows of {table}" if table else "the rows"
    return (
        f"Fetch {what} a page at a time: add LIMIT (keyset paging: WHERE id > ? ORDER BY id "
        "LIMIT 50), or read a batch job's rows with cursor.fetchmany(1000) in a loop."
    )


def _unlimited_read(span: Span) -> bool:
    """What :meth:`UnboundedQuery.visit` asks of a shape's statement: a read with no
    LIMIT that is no aggregate (asked once per shape of a store's code path)."""
    if span.kind != "db" or not is_read(span.statement):
        return False
    statement = span.statement or ""
    return not (has_limit(statement, span.system) or is_aggregate(statement, span.system))


def _many_rows(runs: list[Span], least: int, most: int | None) -> bool:
    """Whether a run fetched ``least`` rows or more (and fewer than ``most``: the rows
    an aggregated response excuses)."""
    for span in runs:
        rows = span.rows or 0
        if rows >= least and (most is None or rows < most):
            return True
    return False


@register
class UnboundedQuery(PerTraceDetector):
    id = "unbounded-query"
    description = "a SELECT with no LIMIT that returned many rows"

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        # Many rows for a tiny answer: python-side-aggregation says it better.
        aggregated = small_response(trace, settings.python_aggregation_max_response_bytes)
        # Asked once per shape first (most requests have no such read): the statement
        # once per shape of the code path, the rows of this request's runs.
        least = settings.unbounded_query_min_rows
        most = settings.python_aggregation_min_rows if aggregated else None
        listed, unlimited = shape_values(trace, _unlimited_read, _unlimited_read)
        if not any(
            could and _many_rows(runs, least, most) for runs, could in zip(listed, unlimited)
        ):
            return
        for span in reads(trace):
            rows = fetched(span)
            statement = span.statement or ""
            if rows < settings.unbounded_query_min_rows:
                continue
            if aggregated and rows >= settings.python_aggregation_min_rows:
                continue
            if has_limit(statement, span.system) or is_aggregate(statement, span.system):
                continue
            table = main_table(statement, span.system)
            severity: Severity = (
                "error" if rows >= settings.unbounded_query_error_rows else "warning"
            )
            yield query_finding(
                self.id,
                trace,
                span,
                severity=severity,
                title=f"Unbounded query: {rows} rows of {table or 'a table'} loaded with no LIMIT",
                evidence={"rows": rows, "table": table},
                fix=remedy(span.framework, table),
            )

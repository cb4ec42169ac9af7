"""python-side-aggregation: many rows fetched for a response of a few numbers.

The rows were counted, summed or tested in Python: the database could have
answered with one row.  Judged only when capture measured the response.
"""

from __future__ import annotations

from collections.abc import Iterable

from perfdoctor.detectors import register
from perfdoctor.detectors._db import (
    fetched,
    is_aggregate,
    query_finding,
    reads,
    response_of,
    small_response,
)
from perfdoctor.detectors._sql import class_name, main_table
from perfdoctor.detectors.base import PerTraceDetector
from perfdoctor.model import Finding, Trace
from perfdoctor.settings import Settings


def remedy(framework: str | None, table: str | None) -> str:
    model = class_name(table) if table else "Model"
    if framework == "django":
        return (
            "Let the database aggregate: qs.count() instead of len(qs), qs.exists() "
            'instead of bool(qs), qs.aggregate(total=Sum("amount")) instead of a sum in '
            "a loop (annotate(...) for per-group figures)."
        )
    if framework == "sqlalchemy":
        return (
            f"Let the database aggregate: session.scalar(select(func.count()).select_from("
            f"{model}).where(...)) instead of len(...all()), select(func.sum({model}.x)), "
            "or select(exists().where(...)); group_by for per-group figures."
        )
    return "Let the database aggregate: SELECT COUNT(*) / SUM(...) / EXISTS(...) ... GROUP BY."


@register
class PythonSideAggregation(PerTraceDetector):
    id = "python-side-aggregation"
    description = "many rows fetched for a response of a few numbers"

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        if not small_response(trace, settings.python_aggregation_max_response_bytes):
            return
        size, items = response_of(trace)
        for span in reads(trace):
            rows = fetched(span)
            statement = span.statement or ""
            if rows < settings.python_aggregation_min_rows or is_aggregate(statement, span.system):
                continue
            table = main_table(statement, span.system)
            yield query_finding(
                self.id,
                trace,
                span,
                severity="warning",
                title=(
                    f"Aggregated in Python: {rows} rows of {table or 'a table'} fetched "
                    f"for a {size}-byte response"
                ),
                evidence={"rows": rows, "response_bytes": size, "response_items": items},
                fix=remedy(span.framework, table),
            )

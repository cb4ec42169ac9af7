"""large-offset: OFFSET pagination deep into a table."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from perfdoctor.analysis.shapes import screened
from perfdoctor.detectors import register
from perfdoctor.detectors._db import has_offset, query_finding
from perfdoctor.detectors._kinds import of_kind
from perfdoctor.detectors._sql import main_table
from perfdoctor.detectors.base import PerTraceDetector
from perfdoctor.model import Finding, Severity, Span, Trace
from perfdoctor.settings import Settings


def remedy(framework: str | None, table: str | None) -> str:
    keyset = (
        "The database still reads every skipped row: page by key instead (keyset / "
        "seek pagination), passing the last key of the page to fetch the next one."
    )
    if framework == "django":
        return (
            f"{keyset} Django: .filter(id__gt=last_id).order_by('id')[:page_size] (or "
            "django-keyset-pagination / DRF's CursorPagination) instead of "
            "qs[offset:offset + page_size] or Paginator.page(n)."
        )
    if framework == "sqlalchemy":
        return (
            f"{keyset} SQLAlchemy: .where(Model.id > last_id).order_by(Model.id)"
            ".limit(page_size) instead of .offset(n).limit(page_size)."
        )
    where = f"FROM {table} " if table else ""
    return f"{keyset} SQL: SELECT ... {where}WHERE id > ? ORDER BY id LIMIT ? (no OFFSET)."


def _skips_many(span: Span, least: int) -> bool:
    """What :meth:`LargeOffset.visit` asks of a span, of one span of a shape."""
    offset = span.attrs.get("offset")
    return (
        span.kind == "db"
        and type(offset) is int
        and offset >= least
        and has_offset(span.statement or "", span.system)
    )


@register
class LargeOffset(PerTraceDetector):
    id = "large-offset"
    description = "OFFSET pagination that skips many rows"

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        # A shape's runs share their attrs and statement: asked once per shape
        # first, and most requests page nothing.
        least = settings.large_offset_min
        if not screened(trace, (self.id, least), partial(_skips_many, least=least)):
            return
        for span in of_kind(trace, "db"):
            offset = span.attrs.get("offset")
            if type(offset) is not int or offset < settings.large_offset_min:
                continue
            statement = span.statement or ""
            if not has_offset(statement, span.system):
                continue
            table = main_table(statement, span.system)
            severity: Severity = "error" if offset >= settings.large_offset_error else "warning"
            yield query_finding(
                self.id,
                trace,
                span,
                severity=severity,
                title=f"Large OFFSET: {offset} rows of {table or 'a table'} read and skipped",
                evidence={"offset": offset, "rows": span.rows, "table": table},
                fix=remedy(span.framework, table),
            )

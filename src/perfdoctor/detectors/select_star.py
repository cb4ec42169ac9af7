"""select-star: every column of a table loaded for many rows.

Conservative by design: the statement must say it loads everything (``SELECT *``
or ``t.*``), or be an ORM's load of whole objects (every column listed) that
includes a column whose name marks a long text or binary value.  The runtime
does not know the schema, so a plain list of columns is never judged on width.
"""

from __future__ import annotations

from collections.abc import Iterable

from perfdoctor.analysis.shapes import screened, shape_values
from perfdoctor.detectors import register
from perfdoctor.detectors._db import Columns, columns, fetched, is_aggregate, query_finding, reads
from perfdoctor.detectors._sql import class_name, is_read, main_table
from perfdoctor.detectors.base import PerTraceDetector
from perfdoctor.model import Finding, Span, Trace
from perfdoctor.settings import Settings

# Column names that hold long text or binary values in the usual schemas.
WIDE_COLUMNS = frozenset(
    {
        "body",
        "content",
        "contents",
        "text",
        "html",
        "markdown",
        "description",
        "bio",
        "payload",
        "data",
        "blob",
        "document",
        "raw",
        "json",
        "metadata",
        "image",
        "file",
        "attachment",
        "notes",
        "summary_html",
    }
)
ORMS = ("django", "sqlalchemy")
# The fewest columns taken for a whole object: a primary key and two fields.
WHOLE_OBJECT_MIN_COLUMNS = 3


def wide_columns(cols: Columns) -> list[str]:
    return [name for name in cols.names if name.lower() in WIDE_COLUMNS]


def whole_objects(cols: Columns) -> bool:
    """Whether the list looks like an ORM loading whole objects, not a projection.

    Without the schema, "every column" cannot be checked; an ORM's full load
    always carries the primary key and the model's other fields, while a
    hand-picked projection (``.values("body")``, ``load_only``) names a few.
    """
    names = [name.lower() for name in cols.names]
    return "id" in names and len(names) >= WHOLE_OBJECT_MIN_COLUMNS


def remedy(framework: str | None, table: str | None, wide: list[str]) -> str:
    model = class_name(table) if table else "Model"
    skip = ", ".join(f'"{name}"' for name in wide) or '"<wide column>"'
    if framework == "django":
        return (
            f'Load only the fields the code reads: .only("id", "title") or '
            f'.values("id", "title") on the queryset, or .defer({skip}) to leave the '
            "wide columns out."
        )
    if framework == "sqlalchemy":
        attrs = ", ".join(f"{model}.{name}" for name in wide) or f"{model}.<wide column>"
        return (
            f"Load only the columns the code reads: select({model}.id, {model}.title) or "
            f".options(load_only({model}.id, {model}.title)); or mark {attrs} "
            "deferred() in the model so it loads only when touched."
        )
    return "Name the columns the code reads in the SELECT list instead of SELECT *."


def _loads_everything(statement: str, system: str | None, framework: str | None) -> bool:
    """What :meth:`SelectStar.visit` asks of a statement, in one answer."""
    cols = columns(statement, system)
    if cols is None or is_aggregate(statement, system):
        return False
    wide = wide_columns(cols)
    return cols.star or (framework in ORMS and bool(wide) and whole_objects(cols))


# The key of _wide_read's answers, per shape and per shapes text (analysis.shapes).
SCREEN = "select-star"


def _wide_read(span: Span) -> bool:
    """What :meth:`SelectStar.visit` asks of a shape's statement (once per shape of a
    store's code path)."""
    return (
        span.kind == "db"
        and is_read(span.statement)
        and _loads_everything(span.statement or "", span.system, span.framework)
    )


def _may_flag(trace: Trace, least: int) -> bool:
    """Whether a read of ``trace`` fetched ``least`` rows or more with a statement
    :meth:`SelectStar.visit` judges, asked a shape at a time."""
    listed, wide = shape_values(trace, SCREEN, _wide_read)
    for runs, could in zip(listed, wide):
        if could:
            for span in runs:
                if (span.rows or 0) >= least:
                    return True
    return False


@register
class SelectStar(PerTraceDetector):
    id = "select-star"
    description = "every column (SELECT *, or whole ORM objects with wide columns) for many rows"

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        # Asked once per shape first: most requests have no such read, and then no
        # span needs a look.  Rows before the statement: a statement is parsed only
        # when a run fetched enough rows, as below.
        if not screened(trace, SCREEN, _wide_read) or not _may_flag(
            trace, settings.select_star_min_rows
        ):
            return
        for span in reads(trace):
            rows = fetched(span)
            if rows < settings.select_star_min_rows:
                continue
            statement = span.statement or ""
            cols = columns(statement, span.system)
            if cols is None or is_aggregate(statement, span.system):
                continue
            wide = wide_columns(cols)
            if not cols.star and not (span.framework in ORMS and wide and whole_objects(cols)):
                continue
            table = main_table(statement, span.system)
            what = "SELECT *" if cols.star else f"all columns, with {', '.join(wide)}"
            yield query_finding(
                self.id,
                trace,
                span,
                severity="warning",
                title=f"Every column loaded: {what}, for {rows} rows of {table or 'a table'}",
                evidence={
                    "rows": rows,
                    "columns": "*" if cols.star else list(cols.names),
                    "wide_columns": wide,
                },
                fix=remedy(span.framework, table, wide),
            )

"""n-plus-one-query: the same query shape repeated from one line, after a parent query."""

from __future__ import annotations

from collections.abc import Iterable

from perfdoctor.detectors import register
from perfdoctor.detectors._feeder import feeding_site, loop_frames
from perfdoctor.detectors._groups import n_plus_one_groups, parent_span
from perfdoctor.detectors._loops import loop_for_stack
from perfdoctor.detectors._sql import Relation, class_name, main_table, relation
from perfdoctor.detectors.base import PerTraceDetector, finding_fingerprint
from perfdoctor.model import Finding, Severity, Trace
from perfdoctor.settings import Settings


def remedy(framework: str | None, rel: Relation | None, parent_table: str | None) -> str:
    """The fix, written for the library that issued the queries."""
    if framework == "django":
        if rel is None:
            return (
                "Load the related rows with the list: add .select_related(...) for a "
                "ForeignKey/OneToOne or .prefetch_related(...) for a reverse FK/ManyToMany "
                "to the queryset the loop iterates."
            )
        if rel.to_many:
            return (
                f'Add .prefetch_related("{rel.name}") to the queryset the loop iterates: '
                "one extra query loads them for every row."
            )
        return (
            f'Add .select_related("{rel.name}") to the queryset the loop iterates: '
            "the rows come in the same query through a JOIN."
        )
    if framework == "sqlalchemy":
        # The foreign key column names the owner best (article_id → Article).
        owner_table = rel.parent if rel and rel.parent else parent_table
        owner = class_name(owner_table) if owner_table else "Parent"
        if rel is None:
            return (
                f"Eager-load the relationship: .options(joinedload({owner}.<relation>)) for a "
                f"many-to-one, .options(selectinload({owner}.<relation>)) for a collection."
            )
        if rel.to_many:
            return (
                f"Add .options(selectinload({owner}.{rel.name})) to the query the loop iterates: "
                "one extra SELECT ... IN loads the collection for every row."
            )
        return (
            f"Add .options(joinedload({owner}.{rel.name})) to the query the loop iterates: "
            "the related row comes in the same query through a JOIN."
        )
    table = rel.table if rel else "the related table"
    return (
        f"Collect the keys first and fetch all rows of {table} in one query "
        "(WHERE key IN (...)), then look them up in a dict inside the loop."
    )


@register
class NPlusOneQuery(PerTraceDetector):
    id = "n-plus-one-query"
    description = "the same query shape repeated in one request from one call site"

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        for group in n_plus_one_groups(trace, settings):
            first = group.first
            parent = parent_span(trace, first)
            rel = relation(first.statement or "", first.system) if first.statement else None
            parent_table = None
            if parent is not None and parent.statement:
                parent_table = main_table(parent.statement, parent.system)
            loop = loop_for_stack(loop_frames(first))
            # A loop in a library (a serializer, a template): the user's line feeding it.
            location, where = feeding_site(trace, first, loop)
            count = group.count
            severity: Severity = (
                "error" if count >= settings.n_plus_one_error_repeats else "warning"
            )
            what = rel.name if rel else "related rows"
            yield Finding(
                id=self.id,
                severity=severity,
                title=f"N+1 queries: {count} queries load {what} one row at a time",
                endpoint=trace.name,
                location=location,
                evidence={
                    "count": count,
                    "total_ms": round(group.total_ms, 3),
                    "statement": first.statement,
                    "parent_statement": parent.statement if parent else None,
                    "loop": loop.to_dict() if loop else None,
                    "framework": first.framework,
                    "system": first.system,
                    **where,
                },
                fix=remedy(first.framework, rel, parent_table),
                fingerprint=finding_fingerprint(
                    self.id, trace.name, first.fingerprint, location
                ),
            )

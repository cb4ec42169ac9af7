"""missing-pagination: a list endpoint that returns every row, with no way to ask for a page."""

from __future__ import annotations

from perfdoctor.capture.response import PAGING_PARAMS
from perfdoctor.detectors import register
from perfdoctor.detectors._responses import Endpoint, method_of, pick, response
from perfdoctor.detectors.base import (
    JudgedEndpoints,
    Session,
    Summarising,
    finding_fingerprint,
)
from perfdoctor.model import Finding, Severity, Trace
from perfdoctor.settings import Settings

FIXES = {
    "django": (
        "With Django REST framework set a pagination_class on the view (or "
        "REST_FRAMEWORK['DEFAULT_PAGINATION_CLASS'] = "
        "'rest_framework.pagination.PageNumberPagination' and 'PAGE_SIZE': 50); in a "
        "plain view use django.core.paginator.Paginator(queryset, 50).get_page(request.GET"
        ".get('page')) and return the page with its count and next/previous links."
    ),
    "flask": (
        "Take page/per_page (or a cursor) from request.args, query one page "
        "(Flask-SQLAlchemy: db.paginate(select(...), per_page=50, max_per_page=100); "
        "SQLAlchemy: .limit(per_page).offset(...) or a keyset WHERE id > :after) and return "
        "{'items': [...], 'next': ...}."
    ),
    "fastapi": (
        "Add limit/offset (or cursor) query parameters with a cap, e.g. "
        "limit: int = Query(50, le=100), offset: int = 0, apply them to the query "
        "(.limit(limit).offset(offset), or keyset WHERE id > :cursor) and return "
        "{'items': [...], 'next': ...} (fastapi-pagination does this for you)."
    ),
}
FIXES["starlette"] = FIXES["fastapi"]
GENERAL = "Return one page at a time, with a page size cap and a link to the next page."


def _unpaged(trace: Trace, settings: Settings) -> int | None:
    """The item count of a list answer with no paging at all, else None."""
    if trace.status != 200:
        return None
    facts = response(trace)
    items = facts.get("items")
    if not isinstance(items, int) or items < settings.missing_pagination_min_items:
        return None
    if facts.get("paginated"):
        return None
    asked = trace.attrs.get("query_names") or []
    if any(str(name).lower() in PAGING_PARAMS for name in asked):
        return None
    return items


class _Endpoint:
    """One GET endpoint's requests so far: its unpaged list answers' counts and sizes."""

    def __init__(self) -> None:
        self.endpoint = Endpoint()
        self.unpaged = 0
        self.items = 0
        self.bytes = 0

    def add(self, trace: Trace, settings: Settings) -> None:
        self.endpoint.add(trace)
        items = _unpaged(trace, settings)
        if items is None:
            return
        size = int(response(trace).get("bytes") or 0)
        if not self.unpaged:
            self.items, self.bytes = items, size
        else:
            self.items, self.bytes = max(self.items, items), max(self.bytes, size)
        self.unpaged += 1


class _Session(JudgedEndpoints[_Endpoint]):
    def wants(self, trace: Trace) -> bool:
        return trace.kind == "http" and method_of(trace.name) == "GET"

    def add(self, summary: _Endpoint, trace: Trace) -> None:
        summary.add(trace, self.settings)


@register
class MissingPagination(Summarising):
    id = "missing-pagination"
    description = "a GET endpoint returning a long JSON list with no pagination"

    def session(self, settings: Settings) -> Session:
        return _Session(self.judge, settings, _Endpoint)

    def judge(self, endpoint: str, seen: _Endpoint, settings: Settings) -> Finding | None:
        if not seen.unpaged:
            return None
        items = seen.items
        severity: Severity = (
            "error" if items >= settings.missing_pagination_error_items else "warning"
        )
        return Finding(
            id=self.id,
            severity=severity,
            title=f"{endpoint} returns {items} items in one response, with no pagination",
            endpoint=endpoint,
            location=seen.endpoint.handler,
            evidence={
                "items": items,
                "bytes": seen.bytes,
                "requests": seen.unpaged,
                "requests_affected": seen.unpaged,
                "min_items": settings.missing_pagination_min_items,
            },
            fix=pick(FIXES, seen.endpoint.framework(), GENERAL)
            + " The response then stays the same size as the table grows.",
            fingerprint=finding_fingerprint(self.id, endpoint),
        )

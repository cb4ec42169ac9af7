"""missing-pagination: a list endpoint that returns every row, with no way to ask for a page."""

from __future__ import annotations

from collections.abc import Sequence

from perfdoctor.capture.response import PAGING_PARAMS
from perfdoctor.detectors import register
from perfdoctor.detectors._responses import (
    framework,
    handler,
    method_of,
    pick,
    requests_by_endpoint,
    response,
)
from perfdoctor.detectors.base import Detector, finding_fingerprint
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


@register
class MissingPagination(Detector):
    id = "missing-pagination"
    description = "a GET endpoint returning a long JSON list with no pagination"

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        found = []
        for endpoint, group in sorted(requests_by_endpoint(traces).items()):
            if method_of(endpoint) != "GET":
                continue
            unpaged = [(t, n) for t in group if (n := _unpaged(t, settings)) is not None]
            if not unpaged:
                continue
            items = max(n for _, n in unpaged)
            sizes = [int(response(t).get("bytes") or 0) for t, _ in unpaged]
            severity: Severity = (
                "error" if items >= settings.missing_pagination_error_items else "warning"
            )
            found.append(
                Finding(
                    id=self.id,
                    severity=severity,
                    title=f"{endpoint} returns {items} items in one response, with no pagination",
                    endpoint=endpoint,
                    location=handler(group),
                    evidence={
                        "items": items,
                        "bytes": max(sizes),
                        "requests": len(unpaged),
                        "min_items": settings.missing_pagination_min_items,
                    },
                    fix=pick(FIXES, framework(group), GENERAL)
                    + " The response then stays the same size as the table grows.",
                    fingerprint=finding_fingerprint(self.id, endpoint),
                )
            )
        return found

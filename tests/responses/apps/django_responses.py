"""A one-file Django site with the response detectors' endpoints and their fixes.

python django_responses.py runserver --noreload 127.0.0.1:8000
"""

from __future__ import annotations

import sys

from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="perfdoctor-tests-only",
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={},
)

from django.core.paginator import Paginator  # noqa: E402
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.cache import cache_control  # noqa: E402
from django.views.decorators.http import etag  # noqa: E402

ITEMS = [{"id": i, "name": f"item {i}"} for i in range(120)]
CATALOG = [{"sku": f"SKU-{i:04d}", "title": f"Product number {i}"} for i in range(60)]


def items(request: HttpRequest) -> JsonResponse:
    return JsonResponse(ITEMS, safe=False)


def items_paged(request: HttpRequest) -> JsonResponse:
    page = Paginator(ITEMS, 25).get_page(request.GET.get("page"))
    return JsonResponse(
        {
            "count": page.paginator.count,
            "next": f"?page={page.next_page_number()}" if page.has_next() else None,
            "results": list(page.object_list),
        }
    )


def catalog(request: HttpRequest) -> JsonResponse:
    return JsonResponse(CATALOG, safe=False)


@cache_control(max_age=60)
@etag(lambda request: "catalog-v1")
def catalog_cached(request: HttpRequest) -> JsonResponse:
    return JsonResponse(CATALOG, safe=False)


def _me(request: HttpRequest) -> JsonResponse:
    token = request.headers.get("Authorization", "")
    return JsonResponse({"user": token[-5:], "orders": [{"id": 1, "total": 30}]})


@cache_control(public=True, max_age=300)
def me_public(request: HttpRequest) -> JsonResponse:
    return _me(request)


@cache_control(private=True, max_age=300)
def me_private(request: HttpRequest) -> JsonResponse:
    return _me(request)


def stream(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse((b"line %d\n" % i for i in range(100)), content_type="text/plain")


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [
    path("items/", items),
    path("items/paged/", items_paged),
    path("catalog/", catalog),
    path("catalog/cached/", catalog_cached),
    path("me/public/", me_public),
    path("me/private/", me_private),
    path("stream/", stream),
    path("health/", health),
]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

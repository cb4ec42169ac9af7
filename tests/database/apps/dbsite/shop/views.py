"""Each view with a database mistake, and its fixed twin."""

from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import HttpRequest, JsonResponse

from shop.models import Product

PAGE = 20


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def products(request: HttpRequest) -> JsonResponse:
    # Every product, every column, to show names.
    items = list(Product.objects.order_by("id"))  # unbounded: django
    return JsonResponse({"products": [{"id": p.id, "name": p.name} for p in items]})


def products_fixed(request: HttpRequest) -> JsonResponse:
    paginator = Paginator(Product.objects.order_by("id").only("id", "name"), 50)
    page = paginator.page(int(request.GET.get("page", "1")))
    return JsonResponse({"products": [{"id": p.id, "name": p.name} for p in page]})


def recent(request: HttpRequest) -> JsonResponse:
    items = list(Product.objects.order_by("-id")[:800])  # star: django
    return JsonResponse({"products": [{"id": p.id, "name": p.name} for p in items]})


def recent_fixed(request: HttpRequest) -> JsonResponse:
    items = list(Product.objects.order_by("-id").values("id", "name")[:800])
    return JsonResponse({"products": items})


def catalogue(request: HttpRequest) -> JsonResponse:
    start = (int(request.GET.get("page", "1")) - 1) * PAGE
    rows = Product.objects.order_by("id").values("id", "name")[start : start + PAGE]
    return JsonResponse({"products": list(rows)})  # offset: django


def catalogue_fixed(request: HttpRequest) -> JsonResponse:
    after = int(request.GET.get("after", "0"))
    rows = Product.objects.filter(id__gt=after).order_by("id").values("id", "name")[:PAGE]
    return JsonResponse({"products": list(rows)})


def stock(request: HttpRequest) -> JsonResponse:
    prices = list(Product.objects.values_list("price", flat=True))  # aggregate: django
    return JsonResponse({"count": len(prices), "value": sum(prices)})


def stock_fixed(request: HttpRequest) -> JsonResponse:
    return JsonResponse(Product.objects.aggregate(count=Count("id"), value=Sum("price")))

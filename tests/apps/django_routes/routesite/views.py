from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import View
from rest_framework import viewsets
from rest_framework.decorators import action, api_view
from rest_framework.request import Request
from rest_framework.response import Response


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def post_by_slug(request: HttpRequest, slug: str) -> JsonResponse:
    return JsonResponse({"slug": slug})


def archive(request: HttpRequest, year: str, month: str) -> JsonResponse:
    return JsonResponse({"year": year, "month": month})


class LegacyView(View):
    def get(self, request: HttpRequest, *args: str) -> JsonResponse:
        return JsonResponse({"args": list(args)})


def text_file(request: HttpRequest, name: str) -> HttpResponse:
    return HttpResponse(name)


def item(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"pk": pk})


def tag(request: HttpRequest, tag: str) -> JsonResponse:
    return JsonResponse({"tag": tag})


def order(request: HttpRequest, id: str) -> JsonResponse:
    return JsonResponse({"id": id})


def about(request: HttpRequest) -> HttpResponse:
    return HttpResponse("about")


@api_view(["GET"])
def report(request: Request, pk: int, format: str | None = None) -> Response:
    return Response({"pk": pk})


@api_view(["GET"])
def stats(request: Request, format: str | None = None) -> Response:
    return Response({"posts": 2})


class PostViewSet(viewsets.ViewSet):
    lookup_field = "slug"

    def list(self, request: Request, format: str | None = None) -> Response:
        return Response([{"slug": "hello"}])

    def retrieve(self, request: Request, slug: str, format: str | None = None) -> Response:
        return Response({"slug": slug})

    @action(detail=True)
    def comments(self, request: Request, slug: str, format: str | None = None) -> Response:
        return Response([])

from django.http import HttpRequest, JsonResponse

from drvshop.models import Book


def books(request: HttpRequest) -> JsonResponse:
    titles = []
    for book in Book.objects.order_by("id"):  # loop: books
        titles.append(f"{book.title} by {book.author.name}")  # n+1: books
    return JsonResponse({"titles": titles})


def books_fixed(request: HttpRequest) -> JsonResponse:
    rows = Book.objects.select_related("author").order_by("id")
    return JsonResponse({"titles": [f"{b.title} by {b.author.name}" for b in rows]})


def books_streamed(request: HttpRequest) -> JsonResponse:
    # .iterator(): a server-side (named) cursor on PostgreSQL, read in chunks.
    count = sum(1 for _ in Book.objects.iterator(chunk_size=7))  # streamed
    return JsonResponse({"count": count})

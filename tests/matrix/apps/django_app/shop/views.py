from django.http import JsonResponse

from shop.models import Book


def books(request):
    rows = []
    for book in Book.objects.order_by("id"):
        rows.append({"title": book.title, "author": book.author.name})  # N+1
    return JsonResponse({"books": rows})


def books_fixed(request):
    rows = []
    for book in Book.objects.select_related("author").order_by("id"):
        rows.append({"title": book.title, "author": book.author.name})
    return JsonResponse({"books": rows})

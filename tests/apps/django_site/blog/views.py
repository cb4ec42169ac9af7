"""Views with the classic ORM mistakes, each next to its fixed twin."""

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404

from blog.models import Article, Author

PAGE_SIZE = 20


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def article_list(request: HttpRequest) -> JsonResponse:
    """N+1: one query for the page, then one per article for its author and its tags."""
    articles = Article.objects.order_by("id")[:PAGE_SIZE]
    rows = []
    for article in articles:
        author_name = article.author.name
        tag_names = [tag.name for tag in article.tags.all()]
        rows.append({"title": article.title, "author": author_name, "tags": tag_names})
    return JsonResponse({"articles": rows})


def article_list_fixed(request: HttpRequest) -> JsonResponse:
    """The same page in three queries, whatever its size."""
    articles = (
        Article.objects.select_related("author").prefetch_related("tags").order_by("id")
    )[:PAGE_SIZE]
    rows = []
    for article in articles:
        author_name = article.author.name
        tag_names = [tag.name for tag in article.tags.all()]
        rows.append({"title": article.title, "author": author_name, "tags": tag_names})
    return JsonResponse({"articles": rows})


def article_detail(request: HttpRequest, pk: int) -> JsonResponse:
    article = get_object_or_404(Article.objects.select_related("author"), pk=pk)
    comments = [{"name": c.name, "body": c.body} for c in article.comments.order_by("id")]
    return JsonResponse(
        {"title": article.title, "author": article.author.name, "comments": comments}
    )


def article_by_slug(request: HttpRequest, slug: str) -> JsonResponse:
    article = get_object_or_404(Article, slug=slug)
    return JsonResponse({"id": article.pk, "title": article.title})


def author_dashboard(request: HttpRequest, pk: int) -> JsonResponse:
    """Duplicate queries: the same author row is fetched three times."""
    name = Author.objects.get(pk=pk).name
    email = Author.objects.get(pk=pk).email
    bio = Author.objects.get(pk=pk).bio
    return JsonResponse({"name": name, "email": email, "bio": bio})


def author_dashboard_fixed(request: HttpRequest, pk: int) -> JsonResponse:
    author = Author.objects.get(pk=pk)
    return JsonResponse({"name": author.name, "email": author.email, "bio": author.bio})

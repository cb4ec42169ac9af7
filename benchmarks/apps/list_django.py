"""A Django + DRF list endpoint for ``benchmarks/app_overhead.py``: 40 queries a request.

``GET /articles/`` lists 39 articles with their author's name through a DRF
serializer, each author loaded on its own (the N+1 a list endpoint often has):
one query for the list and one per article.  The SQLite file is ``$BENCH_DB``;
``python list_django.py seed`` creates it.  Served as ``list_django:application``.
"""

from __future__ import annotations

import os
import sys

import django
from django.conf import settings

ARTICLES = 39

settings.configure(
    DEBUG=False,
    SECRET_KEY="perfdoctor-benchmark-not-a-secret",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    INSTALLED_APPS=["rest_framework"],
    MIDDLEWARE=[],
    ROOT_URLCONF=__name__,
    DATABASES={
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["BENCH_DB"]}
    },
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    USE_TZ=True,
    LOGGING_CONFIG=None,
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [],
        "DEFAULT_PERMISSION_CLASSES": [],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "UNAUTHENTICATED_USER": None,
    },
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection, models  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework import generics, serializers  # noqa: E402


class Author(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        app_label = "bench"


class Article(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField()
    author = models.ForeignKey(Author, on_delete=models.CASCADE)

    class Meta:
        app_label = "bench"


class ArticleSerializer(serializers.ModelSerializer):
    author_name = serializers.CharField(source="author.name")

    class Meta:
        model = Article
        fields = ["id", "title", "body", "author_name"]


class ArticleList(generics.ListAPIView):
    serializer_class = ArticleSerializer

    def get_queryset(self) -> models.QuerySet[Article]:
        return Article.objects.order_by("id")[:ARTICLES]


urlpatterns = [path("articles/", ArticleList.as_view())]
application = get_wsgi_application()


def seed() -> None:
    with connection.schema_editor() as editor:
        editor.create_model(Author)
        editor.create_model(Article)
    authors = Author.objects.bulk_create(Author(name=f"author {i}") for i in range(ARTICLES))
    Article.objects.bulk_create(
        Article(title=f"article {i}", body="text " * 40, author=authors[i])
        for i in range(ARTICLES)
    )


if __name__ == "__main__" and sys.argv[1:] == ["seed"]:
    seed()

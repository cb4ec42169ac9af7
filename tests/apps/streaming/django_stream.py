"""A one-file Django project streaming rows with ``StreamingHttpResponse``.

Run with ``python -m django runserver --settings django_stream``, or under an
ASGI server as ``django_stream_asgi:application``.  ``/pages/<page>.csv`` looks each
row's author up as it streams (an N+1); ``/articles/fixed.csv`` joins; ``/tail/``
streams until the client goes away.  Under ``/async/`` the same bodies are async
generators (Django runs their queries through ``sync_to_async``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path

DEBUG = False
SECRET_KEY = "streaming-test-only"
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = __name__
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
USE_TZ = True
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["STREAM_DATABASE"]}
}


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def articles_csv(request: HttpRequest, page: int) -> StreamingHttpResponse:
    def rows() -> Iterator[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, author_id FROM article ORDER BY id")
            articles = cursor.fetchall()
        for article_id, author_id in articles:  # loop: django_rows
            with connection.cursor() as cursor:
                cursor.execute("SELECT name FROM author WHERE id = %s", [author_id])  # n+1: django_rows
                yield f"{page},{article_id},{cursor.fetchone()[0]}\n"

    return StreamingHttpResponse(rows(), content_type="text/csv")


def articles_fixed_csv(request: HttpRequest) -> StreamingHttpResponse:
    def rows() -> Iterator[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT article.id, author.name FROM article"
                " JOIN author ON author.id = article.author_id ORDER BY article.id"
            )
            for article_id, name in cursor.fetchall():
                yield f"{article_id},{name}\n"

    return StreamingHttpResponse(rows(), content_type="text/csv")


def tail(request: HttpRequest) -> StreamingHttpResponse:
    def rows() -> Iterator[str]:
        for n in itertools.count():
            with connection.cursor() as cursor:
                cursor.execute("SELECT name FROM author WHERE id = %s", [n % 3 + 1])
                yield f"{n}\n"
            time.sleep(0.01)

    return StreamingHttpResponse(rows(), content_type="text/plain")


def _articles() -> list[tuple[int, int]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, author_id FROM article ORDER BY id")
        return list(cursor.fetchall())


def _author(author_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM author WHERE id = %s", [author_id])
        return str(cursor.fetchone()[0])


async def async_articles_csv(request: HttpRequest, page: int) -> StreamingHttpResponse:
    async def rows() -> AsyncIterator[str]:
        for article_id, author_id in await sync_to_async(_articles)():
            yield f"{page},{article_id},{await sync_to_async(_author)(author_id)}\n"

    return StreamingHttpResponse(rows(), content_type="text/csv")


async def async_tail(request: HttpRequest) -> StreamingHttpResponse:
    async def rows() -> AsyncIterator[str]:
        for n in itertools.count():
            yield f"{n},{await sync_to_async(_author)(n % 3 + 1)}\n"
            await asyncio.sleep(0.01)

    return StreamingHttpResponse(rows(), content_type="text/plain")


urlpatterns = [
    path("health/", health),
    path("pages/<int:page>.csv", articles_csv),
    path("articles/fixed.csv", articles_fixed_csv),
    path("tail/", tail),
    path("async/pages/<int:page>.csv", async_articles_csv),
    path("async/tail/", async_tail),
]

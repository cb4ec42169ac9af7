"""A Django site with a Strawberry and a graphene-django endpoint, driven by Django's
test client; run it under ``perfdoctor run``.  Its tables live in the SQLite file
named by GQL_DATABASE."""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path

import django
from django.conf import settings

sys.path.insert(0, str(Path(__file__).parent))
settings.configure(
    DEBUG=False,
    SECRET_KEY="perfdoctor-test-not-a-secret",
    ALLOWED_HOSTS=["testserver"],
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "graphene_django", "blog"],
    ROOT_URLCONF="blog.urls",
    DATABASES={
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["GQL_DATABASE"]}
    },
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
)
django.setup()

from blog.models import Author, Comment, Post  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

with connection.schema_editor() as editor:
    for model in (Author, Post, Comment):
        editor.create_model(model)
authors = Author.objects.bulk_create(Author(name=f"author {i}") for i in range(6))
posts = Post.objects.bulk_create(
    Post(title=f"post {i}", author=authors[i % len(authors)]) for i in range(12)
)
Comment.objects.bulk_create(Comment(post=p, body="first") for p in posts)

client = Client()
GRAPHENE = "{ title author { name } commentCount }"
REQUESTS = [
    ("/strawberry/graphql", {"query": "query StrawberryPosts { posts { title author { name } } }"}),
    ("/strawberry/graphql", {"query": "query StrawberryPostsFixed { postsFixed { title author { name } } }"}),
    ("/graphene/graphql", {"query": f"query PostList {{ posts {GRAPHENE} }}"}),
    ("/graphene/graphql", {"query": f"query PostListFixed {{ postsFixed {GRAPHENE} }}"}),
    (
        "/graphene/batch",
        [
            {"id": 1, "query": f"query PostListFixed {{ postsFixed {GRAPHENE} }}"},
            {"id": 2, "query": "query Titles { posts { title } }"},
        ],
    ),
]


def post(path: str, payload: object) -> None:
    response = client.post(path, json.dumps(payload), content_type="application/json")
    body = response.json()
    assert response.status_code == 200 and "errors" not in json.dumps(body), body


# map(), not a for-loop: the driver's own loop is not the one the site runs.
list(itertools.starmap(post, REQUESTS))

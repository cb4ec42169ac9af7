"""A DRF site driven by Django's test client; run it under ``perfdoctor run``.

Each path is requested once; the site's tables live in an in-memory SQLite
database created and seeded here.
"""

import sys
from pathlib import Path

import django
from django.conf import settings

sys.path.insert(0, str(Path(__file__).parent))
settings.configure(
    DEBUG=False,
    SECRET_KEY="perfdoctor-test-not-a-secret",
    ALLOWED_HOSTS=["testserver"],
    INSTALLED_APPS=["press"],
    ROOT_URLCONF="press.urls",
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [],
        "DEFAULT_PERMISSION_CLASSES": [],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "UNAUTHENTICATED_USER": None,
    },
)
django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from press.models import Author, Comment, Post  # noqa: E402

with connection.schema_editor() as editor:
    for model in (Author, Post, Comment):
        editor.create_model(model)
authors = Author.objects.bulk_create(Author(name=f"author {i}") for i in range(8))
posts = Post.objects.bulk_create(
    Post(title=f"post {i}", author=authors[i % len(authors)]) for i in range(12)
)
Comment.objects.bulk_create(Comment(post=p, body="first") for p in posts)

client = Client()


def fetch(path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, (response.status_code, response.content[:500])


# map(), not a for-loop: the driver's own loop is not the one the site runs.
list(map(fetch, sys.argv[1:]))

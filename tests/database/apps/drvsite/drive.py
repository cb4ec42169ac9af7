"""A Django shop on a real PostgreSQL or MariaDB, driven by Django's test client.

Run under ``perfdoctor run``.  DRV_BACKEND is ``postgresql`` or ``mysql``;
DRV_NAME/DRV_HOST/DRV_PORT/DRV_USER say where.  With DRV_HIDE_PSYCOPG=1 the
psycopg 3 package cannot be imported, so Django falls back to psycopg2, as on a
machine with only psycopg2 installed.  Prints the driver module Django used.
"""

import os
import sys
from pathlib import Path

if os.environ.get("DRV_HIDE_PSYCOPG") == "1":
    sys.modules["psycopg"] = None

import django
from django.conf import settings

sys.path.insert(0, str(Path(__file__).parent))
engine = {"postgresql": "django.db.backends.postgresql", "mysql": "django.db.backends.mysql"}
settings.configure(
    DEBUG=False,
    SECRET_KEY="perfdoctor-test-not-a-secret",
    ALLOWED_HOSTS=["testserver"],
    INSTALLED_APPS=["drvshop"],
    ROOT_URLCONF="drvshop.urls",
    DATABASES={
        "default": {
            "ENGINE": engine[os.environ["DRV_BACKEND"]],
            "NAME": os.environ["DRV_NAME"],
            "HOST": os.environ["DRV_HOST"],
            "PORT": os.environ["DRV_PORT"],
            "USER": os.environ["DRV_USER"],
            "PASSWORD": "",
        }
    },
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    USE_TZ=True,
)
django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from drvshop.models import Author, Book  # noqa: E402

with connection.schema_editor() as editor:
    editor.create_model(Author)
    editor.create_model(Book)
authors = Author.objects.bulk_create(Author(name=f"author {i}") for i in range(6))
Book.objects.bulk_create(
    Book(title=f"book {i}", author=authors[i % len(authors)]) for i in range(24)
)

client = Client()


def fetch(path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, (response.status_code, response.content[:500])


# map(), not a for-loop: the driver's own loop is not the one the site runs.
list(map(fetch, sys.argv[1:]))
print(connection.Database.__name__)

"""A Django site instrumented with OpenTelemetry alone: no perfdoctor in this process.

The test site's blog (``tests/apps/django_site``) behind ``re_path`` routes, as
Wagtail serves every page through one (``^((?:[\\w\\-]+/)*)$``): OpenTelemetry's
Django instrumentation names a request's route by that regex.  SQLite through the
sqlite3 instrumentation (Django's ORM issues the queries, nothing says so on the
spans), spans written by the official OTLP JSON file exporter.  Run as
``python otel_django.py OUT.jsonl DB``: it seeds the database, asks each page
through Django's test client, and flushes the exporter.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

from opentelemetry import trace
from opentelemetry.exporter.otlp.json.file import FileSpanExporter
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

SITE = Path(__file__).resolve().parents[1] / "apps" / "django_site"
PAGES = ("/", "/news/", "/authors/1/dashboard/")


def main() -> None:
    out_path, db_path = sys.argv[1], sys.argv[2]
    sys.path.insert(0, str(SITE))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="djsite.settings", PD_DB="sqlite", PD_SQLITE_PATH=db_path
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "otel-django-site"}))
    provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter(out_path)))
    trace.set_tracer_provider(provider)
    SQLite3Instrumentor().instrument()
    DjangoInstrumentor().instrument()

    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.urls import re_path

    django.setup()
    from blog import views

    urls = types.ModuleType("otel_django_urls")
    urls.urlpatterns = [  # type: ignore[attr-defined]
        re_path(r"^authors/(?P<pk>[0-9]+)/dashboard/$", views.author_dashboard),
        # Every other page, as a CMS serves its page tree.
        re_path(r"^((?:[\w\-]+/)*)$", lambda request, path: views.article_list(request)),
    ]
    sys.modules[urls.__name__] = urls
    settings.ROOT_URLCONF = urls.__name__
    settings.ALLOWED_HOSTS = ["testserver"]

    call_command("migrate", verbosity=0)
    call_command("seed")

    from django.test import Client

    client = Client()
    for page in PAGES:
        for _ in range(2):
            assert client.get(page).status_code == 200, page
    provider.shutdown()


if __name__ == "__main__":
    main()

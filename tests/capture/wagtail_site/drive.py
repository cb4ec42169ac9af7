"""A Wagtail site driven by Django's test client; run it under ``perfdoctor run``.

Wagtail answers every page from one catch-all route (``wagtail.views.serve``);
the site's pages and tables live in a SQLite file made here (``argv[1]``).
"""

import sys
from pathlib import Path

import django
from django.conf import settings

sys.path.insert(0, str(Path(__file__).parent))
settings.configure(
    DEBUG=False,
    SECRET_KEY="perfdoctor-test-not-a-secret",
    ALLOWED_HOSTS=["testserver", "localhost"],
    INSTALLED_APPS=[
        "bakery",
        "wagtail",
        "modelcluster",
        "taggit",
        "django.contrib.auth",
        "django.contrib.contenttypes",
    ],
    ROOT_URLCONF="wagtail.urls",
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1]}},
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
    WAGTAIL_SITE_NAME="bakery",
    STATIC_URL="/static/",
)
django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

call_command("migrate", run_syncdb=True, verbosity=0)

from bakery.models import BreadPage, BreadsIndexPage, Country, HomePage  # noqa: E402
from wagtail.models import Page, Site  # noqa: E402

root = Page.objects.get(depth=1)
home = root.add_child(instance=HomePage(title="Home", slug="bakery-home"))
Site.objects.update(root_page=home)
breads = home.add_child(instance=BreadsIndexPage(title="Breads", slug="breads"))
countries = Country.objects.bulk_create(Country(name=f"country {i}") for i in range(6))
for i in range(6):
    breads.add_child(instance=BreadPage(title=f"bread {i}", slug=f"bread-{i}", origin=countries[i]))

client = Client()


def fetch(path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.content[:500])


# map(), not a for-loop: the driver's own loop is not the one the site runs.
list(map(fetch, sys.argv[2:]))

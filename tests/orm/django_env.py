"""Django configured in the test process, once, for the ``blog`` test app.

``setup()`` is idempotent: settings (SQLite in memory), ``django.setup()``, and
the tables of every installed model.  Call it from a fixture, not at import:
pytest-django blocks database access when Django is configured before its
session fixture runs.
"""

from __future__ import annotations

_done = False


def setup() -> None:
    global _done
    if _done:
        return
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="tests",
            USE_TZ=True,
            INSTALLED_APPS=[
                "django.contrib.contenttypes",
                "django.contrib.auth",
                "tests.orm.django_models",
            ],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        )
    django.setup()
    from django.apps import apps
    from django.db import connection

    with connection.schema_editor() as editor:
        existing = set(connection.introspection.table_names())
        # create_model also creates the auto-created many-to-many tables.
        for model in apps.get_models():
            if model._meta.managed and not model._meta.proxy and model._meta.db_table not in existing:
                editor.create_model(model)
    _done = True

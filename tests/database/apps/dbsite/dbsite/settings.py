"""A small shop on Django: the database comes from the environment.

``SHOP_PG_NAME`` (with ``SHOP_PG_HOST``/``SHOP_PG_PORT``/``SHOP_PG_USER``) picks
PostgreSQL, else ``SHOP_SQLITE`` is the SQLite file; ``SHOP_CONN_MAX_AGE`` is
Django's CONN_MAX_AGE (0, Django's default, closes the connection after each
request).
"""

import os

SECRET_KEY = "test-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["shop"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "dbsite.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_age = int(os.environ.get("SHOP_CONN_MAX_AGE", "0"))
if os.environ.get("SHOP_PG_NAME"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ["SHOP_PG_NAME"],
            "HOST": os.environ.get("SHOP_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("SHOP_PG_PORT", "5432"),
            "USER": os.environ.get("SHOP_PG_USER", "postgres"),
            "CONN_MAX_AGE": _age,
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SHOP_SQLITE", "shop.sqlite3"),
            "CONN_MAX_AGE": _age,
        }
    }

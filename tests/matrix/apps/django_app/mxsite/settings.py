"""One settings file for Django 3.2 to 5.x; the database comes from the environment
(MX_DATABASE: a SQLite file, or MX_POSTGRES: a database name on 127.0.0.1)."""

import os

SECRET_KEY = "matrix"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = ["shop"]
MIDDLEWARE = []
ROOT_URLCONF = "mxsite.urls"
WSGI_APPLICATION = "mxsite.wsgi.application"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# CONN_MAX_AGE: connections are kept across requests (runserver still opens one
# per request: it serves each on a new thread, and connections are per thread).
if os.environ.get("MX_POSTGRES"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ["MX_POSTGRES"],
            "USER": "postgres",
            "HOST": "127.0.0.1",
            "PORT": "5432",
            "CONN_MAX_AGE": 60,
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ["MX_DATABASE"],
            "CONN_MAX_AGE": 60,
        }
    }

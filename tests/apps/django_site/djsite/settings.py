"""Settings of the test site; the database is chosen by environment variables.

PD_DB=sqlite (default)    PD_SQLITE_PATH=/path/to/db.sqlite3
PD_DB=postgres            PD_POSTGRES_URL=postgresql://user:password@host:port/name
PD_DB=mysql               PD_MYSQL_HOST, PD_MYSQL_PORT, PD_MYSQL_USER, PD_MYSQL_PASSWORD,
                          PD_MYSQL_DATABASE (Django's MySQL backend through PyMySQL)
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "perfdoctor-test-site-not-a-secret"
DEBUG = os.environ.get("PD_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = ["blog"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "djsite.urls"
WSGI_APPLICATION = "djsite.wsgi.application"

USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _database() -> dict[str, object]:
    choice = os.environ.get("PD_DB", "sqlite")
    if choice == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("PD_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
        }
    if choice == "postgres":
        url = urlsplit(os.environ["PD_POSTGRES_URL"])
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": url.path.lstrip("/"),
            "USER": unquote(url.username or ""),
            "PASSWORD": unquote(url.password or ""),
            "HOST": url.hostname or "127.0.0.1",
            "PORT": str(url.port or 5432),
        }
    if choice == "mysql":
        # Django's MySQL backend imports MySQLdb (mysqlclient); PyMySQL stands in for it
        # and reports a mysqlclient-compatible version_info, which Django accepts.
        import pymysql

        pymysql.install_as_MySQLdb()
        return {
            "ENGINE": "django.db.backends.mysql",
            "NAME": os.environ["PD_MYSQL_DATABASE"],
            "HOST": os.environ.get("PD_MYSQL_HOST", "127.0.0.1"),
            "PORT": os.environ.get("PD_MYSQL_PORT", "3306"),
            "USER": os.environ.get("PD_MYSQL_USER", "root"),
            "PASSWORD": os.environ.get("PD_MYSQL_PASSWORD", ""),
            "OPTIONS": {"charset": "utf8mb4"},
        }
    raise ValueError(f"PD_DB must be sqlite, postgres or mysql, not {choice!r}")


DATABASES = {"default": _database()}

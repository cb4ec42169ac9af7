"""A small site with real logins (sessions) and Django's cache.

PD_SQLITE_PATH=/path/to/db.sqlite3
PD_CACHE=locmem (default) | redis   PD_REDIS_URL=redis://...   PD_CACHE_PREFIX=unique-prefix
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "perfdoctor-cache-test-site-not-a-secret"
DEBUG = os.environ.get("PD_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "cachesite",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "cachesite.urls"
WSGI_APPLICATION = "cachesite.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Fast hashing: the tests log in over HTTP, the strength of the hash is not the point.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("PD_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
    }
}

_PREFIX = os.environ.get("PD_CACHE_PREFIX", "cachesite")
if os.environ.get("PD_CACHE", "locmem") == "redis":
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("PD_REDIS_URL", "redis://127.0.0.1:6379/0"),
            "KEY_PREFIX": _PREFIX,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": _PREFIX,
        }
    }

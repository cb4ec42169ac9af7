"""Fixtures for the cache tests: unique Redis key prefixes and the Django cache site.

Every test writes only under its own prefix and deletes those keys afterwards
(never FLUSHALL/FLUSHDB: other suites share this Redis).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import APPS

CACHE_SITE = APPS / "django_cache_site"
CACHE_VIEWS = CACHE_SITE / "cachesite" / "views.py"
SCRIPTS = APPS / "scripts"


def delete_prefixed(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"pd-test-{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        delete_prefixed(redis_url, prefix)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("PERFDOCTOR_", "PD_")) and k != "DJANGO_SETTINGS_MODULE"
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def prepare_cache_site(env: dict[str, str]) -> None:
    """Migrate and create the two users, under plain Python (before the server starts)."""
    for command in (["migrate", "--noinput"], ["create_users"]):
        result = subprocess.run(
            [sys.executable, "manage.py", *command], cwd=CACHE_SITE, env=env,
            capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr

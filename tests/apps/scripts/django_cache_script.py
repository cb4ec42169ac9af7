"""Django's cache API called from a script (locmem, or Redis with PD_CACHE=redis).

Run under ``perfdoctor run``; PD_PREFIX is a unique key prefix.
"""

import asyncio
import os
import sqlite3

import django
from django.conf import settings

PREFIX = os.environ["PD_PREFIX"]
if os.environ.get("PD_CACHE") == "redis":
    backend = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
        "KEY_PREFIX": PREFIX,
        "TIMEOUT": None,
    }
else:
    backend = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "TIMEOUT": None}
settings.configure(CACHES={"default": backend})
django.setup()

from django.core.cache import cache  # noqa: E402

db = sqlite3.connect(":memory:")


def expensive() -> list[int]:
    return [row[0] for row in db.execute("SELECT 1 UNION ALL SELECT 2")]  # django: computed


cache.get_or_set("report:2024", expensive, timeout=120)  # django: get_or_set miss
cache.get_or_set("report:2024", expensive, timeout=120)  # django: get_or_set hit
cache.get_or_set("plain", [1, 2])  # django: get_or_set plain miss
cache.set("config", {"a": 1})  # django: set default timeout
cache.add("config", {"a": 2}, timeout=5)  # django: add existing
cache.get_many(["config", "missing"])  # django: get_many
cache.set("hits", 1, timeout=60)
cache.incr("hits")  # django: incr
cache.delete("hits")  # django: delete


async def main() -> None:
    await cache.aset("async-key", "v", timeout=30)  # django: aset
    await cache.aget("async-key")  # django: aget


asyncio.run(main())

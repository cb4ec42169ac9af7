"""redis-py (sync) calls a script makes; run under ``perfdoctor run``.

REDIS_URL and PD_PREFIX (a unique key prefix) come from the environment.
"""

import asyncio
import os

import redis

PREFIX = os.environ["PD_PREFIX"]
r = redis.Redis.from_url(os.environ["REDIS_URL"])

r.set(f"{PREFIX}user:42:profile", "secret-value-1", ex=60)  # redis: set ex
r.get(f"{PREFIX}user:42:profile")  # redis: get hit
r.get(f"{PREFIX}user:43:profile")  # redis: get miss
r.set(f"{PREFIX}banner", "secret-value-2")  # redis: set no ttl
r.setex(f"{PREFIX}token:abc123", 30, "secret-value-3")  # redis: setex
r.set(f"{PREFIX}px", "v", px=1500)  # redis: set px
r.mget(f"{PREFIX}banner", f"{PREFIX}nothing")  # redis: mget
pipe = r.pipeline()
pipe.set(f"{PREFIX}piped:1", "a")
pipe.expire(f"{PREFIX}piped:1", 120)
pipe.incr(f"{PREFIX}counter")
pipe.execute()  # redis: pipeline


async def blocking_inside_the_loop() -> None:
    r.get(f"{PREFIX}banner")  # redis: sync in async


asyncio.run(blocking_inside_the_loop())

"""redis-py's asyncio client in a script; run under ``perfdoctor run``."""

import asyncio
import os

import redis.asyncio as aioredis

PREFIX = os.environ["PD_PREFIX"]


async def main() -> None:
    r = aioredis.Redis.from_url(os.environ["REDIS_URL"])
    await r.set(f"{PREFIX}session:7f3e", "secret-async-1", ex=90)  # aredis: set
    await r.get(f"{PREFIX}session:7f3e")  # aredis: get hit
    await r.get(f"{PREFIX}session:missing")  # aredis: get miss
    async with r.pipeline(transaction=True) as pipe:
        pipe.set(f"{PREFIX}cart:9", "x")
        pipe.get(f"{PREFIX}cart:9")
        await pipe.execute()  # aredis: pipeline
    await r.aclose()


asyncio.run(main())

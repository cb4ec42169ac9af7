"""An async FastAPI shop on asyncpg and SQLAlchemy's async engine, with the
database mistakes of async code next to their fixes.

Every statement waits ``pause(60)`` ms in the database, so awaiting three in a
row costs three times what running them together does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from db import PG_URL, SA_URL, add_pause, sync_engine
from fastapi import FastAPI
from models import Item
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from starlette.concurrency import run_in_threadpool

COUNT = "SELECT count(*) FROM items WHERE (SELECT pause(60)) > 0"
MOST = "SELECT max(price) FROM items WHERE (SELECT pause(60)) > 0"
LEAST = "SELECT min(price) FROM items WHERE (SELECT pause(60)) > 0"
state: dict[str, Any] = {}


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    engine = create_async_engine(SA_URL)
    add_pause(engine.sync_engine)
    state["sessions"] = async_sessionmaker(engine)
    state["sync_engine"] = sync_engine()
    if PG_URL:
        state["pool"] = await asyncpg.create_pool(PG_URL, min_size=3, max_size=3)
    yield
    if PG_URL:
        await state["pool"].close()
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


# --- SQLAlchemy async ------------------------------------------------------


def paused(_model: Any, ms: int = 60) -> Any:
    # An uncorrelated subquery: the database waits once, not once per row.
    return select(func.pause(ms)).scalar_subquery() > 0


@app.get("/sa/stats")
async def sa_stats() -> dict[str, int]:
    async with state["sessions"]() as session:
        count = await session.scalar(select(func.count(Item.id)).where(paused(Item)))  # seq: sa
        most = await session.scalar(select(func.max(Item.price)).where(paused(Item)))
        least = await session.scalar(select(func.min(Item.price)).where(paused(Item)))
    return {"count": count, "most": most, "least": least}


async def _scalar(query: Any) -> Any:
    async with state["sessions"]() as session:
        return await session.scalar(query)


@app.get("/sa/stats/fixed")
async def sa_stats_fixed() -> dict[str, int]:
    # One session (one connection) per query, run together.
    count, most, least = await asyncio.gather(
        _scalar(select(func.count(Item.id)).where(paused(Item))),
        _scalar(select(func.max(Item.price)).where(paused(Item))),
        _scalar(select(func.min(Item.price)).where(paused(Item))),
    )
    return {"count": count, "most": most, "least": least}


def _count_blocking() -> int:
    with state["sync_engine"].connect() as conn:
        slow = select(func.count(Item.id)).where(paused(Item, 150))
        return int(conn.execute(slow).scalar_one())  # blocking: sa


@app.get("/sa/blocking")
async def sa_blocking() -> dict[str, int]:
    # A synchronous engine called straight from async code: the loop stops.
    return {"count": _count_blocking()}


@app.get("/sa/blocking/fixed")
async def sa_blocking_fixed() -> dict[str, int]:
    return {"count": await run_in_threadpool(_count_blocking)}


@app.get("/sa/engine-per-request")
async def sa_engine_per_request() -> dict[str, int]:
    engine = create_async_engine(SA_URL)
    try:
        async with engine.connect() as conn:  # connect: sa
            count = await conn.scalar(select(func.count(Item.id)))
    finally:
        await engine.dispose()
    return {"count": count or 0}


@app.get("/sa/items")
async def sa_items() -> dict[str, int]:
    async with state["sessions"]() as session:
        count = await session.scalar(select(func.count(Item.id)))
    return {"count": count or 0}


# --- asyncpg -----------------------------------------------------------------


@app.get("/pg/stats")
async def pg_stats() -> dict[str, int]:
    async with state["pool"].acquire() as conn:
        count = await conn.fetchval(COUNT)  # seq: pg
        most = await conn.fetchval(MOST)
        least = await conn.fetchval(LEAST)
    return {"count": count, "most": most, "least": least}


async def _fetchval(query: str) -> Any:
    async with state["pool"].acquire() as conn:
        return await conn.fetchval(query)


@app.get("/pg/stats/fixed")
async def pg_stats_fixed() -> dict[str, int]:
    count, most, least = await asyncio.gather(_fetchval(COUNT), _fetchval(MOST), _fetchval(LEAST))
    return {"count": count, "most": most, "least": least}


@app.get("/pg/connect-per-request")
async def pg_connect_per_request() -> dict[str, int]:
    conn = await asyncpg.connect(PG_URL)  # connect: pg
    try:
        return {"count": await conn.fetchval("SELECT count(*) FROM items")}
    finally:
        await conn.close()


@app.get("/pg/pooled")
async def pg_pooled() -> dict[str, int]:
    return {"count": await _fetchval("SELECT count(*) FROM items")}

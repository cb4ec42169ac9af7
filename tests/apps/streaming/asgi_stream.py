"""FastAPI ``StreamingResponse`` bodies that query as they stream.

``/articles.csv`` is an async generator that awaits one aiosqlite query per row
(an N+1); ``/articles/fixed.csv`` joins.  ``/sync/articles.csv`` is a plain
generator, which Starlette iterates in its thread pool.  ``/tail`` streams until
the client goes away.  A ``@app.middleware("http")`` (Starlette's
``BaseHTTPMiddleware``) relays every body through a task of its own, as many
apps do.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import aiosqlite
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

app = FastAPI()
DATABASE = os.environ["STREAM_DATABASE"]


@app.middleware("http")
async def no_store(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    response.headers["Cache-Control"] = "no-store"
    return response


@app.get("/health")
async def health() -> PlainTextResponse:
    return PlainTextResponse("ok")


@app.get("/articles.csv")
async def articles_csv() -> StreamingResponse:
    async def rows() -> AsyncIterator[str]:
        async with aiosqlite.connect(DATABASE) as conn:
            cursor = await conn.execute("SELECT id, author_id FROM article ORDER BY id")
            for article_id, author_id in await cursor.fetchall():  # loop: asgi_rows
                author = await conn.execute("SELECT name FROM author WHERE id = ?", (author_id,))  # n+1: asgi_rows
                (name,) = await author.fetchone()
                yield f"{article_id},{name}\n"

    return StreamingResponse(rows(), media_type="text/csv")


@app.get("/articles/fixed.csv")
async def articles_fixed_csv() -> StreamingResponse:
    async def rows() -> AsyncIterator[str]:
        async with aiosqlite.connect(DATABASE) as conn:
            cursor = await conn.execute(
                "SELECT article.id, author.name FROM article"
                " JOIN author ON author.id = article.author_id ORDER BY article.id"
            )
            async for article_id, name in cursor:
                yield f"{article_id},{name}\n"

    return StreamingResponse(rows(), media_type="text/csv")


@app.get("/sync/articles.csv")
def sync_articles_csv() -> StreamingResponse:
    def rows() -> Iterator[str]:
        conn = sqlite3.connect(DATABASE, check_same_thread=False)
        try:
            articles = conn.execute("SELECT id, author_id FROM article ORDER BY id").fetchall()
            for article_id, author_id in articles:  # loop: asgi_sync_rows
                author = conn.execute("SELECT name FROM author WHERE id = ?", (author_id,))  # n+1: asgi_sync_rows
                yield f"{article_id},{author.fetchone()[0]}\n"
        finally:
            conn.close()

    return StreamingResponse(rows(), media_type="text/csv")


@app.get("/tail")
async def tail() -> StreamingResponse:
    async def rows() -> AsyncIterator[str]:
        async with aiosqlite.connect(DATABASE) as conn:
            for n in itertools.count():
                cursor = await conn.execute("SELECT name FROM author WHERE id = ?", (n % 3 + 1,))
                await cursor.fetchone()
                yield f"{n}\n"
                await asyncio.sleep(0.01)

    return StreamingResponse(rows(), media_type="text/plain")

"""A FastAPI app with one endpoint per response detector, and the idiomatic fix of each.

Served by uvicorn under ``perfdoctor run --memory`` in tests/responses.  The
outbound "welcome email" API is a local server whose URL comes in WEBHOOK_URL.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
from fastapi import BackgroundTasks, FastAPI, Query, Request, Response

app = FastAPI()
ITEMS = [{"id": i, "name": f"item {i}"} for i in range(300)]
CATALOG = [{"sku": f"SKU-{i:04d}", "title": f"Product number {i}"} for i in range(60)]
WEBHOOK = os.environ.get("WEBHOOK_URL", "http://127.0.0.1:9/")


@app.get("/items")
async def items() -> list[dict[str, Any]]:
    return ITEMS


@app.get("/items/page")
async def items_page(limit: int = Query(50, le=100), offset: int = 0) -> dict[str, Any]:
    rows = ITEMS[offset : offset + limit]
    return {"items": rows, "next": f"/items/page?offset={offset + limit}&limit={limit}"}


@app.get("/catalog")
async def catalog() -> list[dict[str, str]]:
    return CATALOG


@app.get("/catalog/cached", response_model=None)
async def catalog_cached(request: Request, response: Response) -> Any:
    # The fix perfdoctor prints for /catalog, as written.
    version = '"catalog-v1"'
    if request.headers.get("if-none-match") == version:
        return Response(status_code=304, headers={"ETag": version})
    response.headers["Cache-Control"] = "max-age=60"
    response.headers["ETag"] = version
    return CATALOG


@app.get("/slow")
async def slow() -> dict[str, bool]:
    await asyncio.sleep(0.55)
    return {"ok": True}


@app.get("/fast")
async def fast() -> dict[str, bool]:
    return {"ok": True}


@app.get("/report/big")
async def report_big() -> dict[str, int]:
    canvas = bytearray(110 * 1024 * 1024)  # high-memory: canvas
    for _ in range(30):
        await asyncio.sleep(0.002)
    return {"size": len(canvas)}


async def send_welcome() -> None:
    async with httpx.AsyncClient() as client:
        await client.post(WEBHOOK, json={"template": "welcome"}, timeout=5)


@app.post("/signup")
async def signup() -> dict[str, bool]:
    async with httpx.AsyncClient() as client:
        await client.post(WEBHOOK, json={"template": "welcome"}, timeout=5)  # background: welcome
    return {"ok": True}


@app.post("/signup/background")
async def signup_background(tasks: BackgroundTasks) -> dict[str, bool]:
    tasks.add_task(send_welcome)
    return {"ok": True}

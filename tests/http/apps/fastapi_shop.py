"""A FastAPI shop that calls an external API with httpx.AsyncClient: problems and fixes.

``uvicorn fastapi_shop:app``; the API's base URL comes from ``SHOP_UPSTREAM``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
from fastapi import FastAPI

app = FastAPI()
UPSTREAM = os.environ["SHOP_UPSTREAM"]
BASKET = list(range(1, 9))


@app.get("/health")
async def health() -> dict[str, bool]:
    return {"ok": True}


@app.get("/basket")
async def basket() -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=UPSTREAM) as client:
        items = []
        for item_id in BASKET:  # loop: basket
            items.append((await client.get(f"/items/{item_id}")).json())  # n+1: basket
    return {"items": items}


@app.get("/basket/fixed")
async def basket_fixed() -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=UPSTREAM) as client:
        answers = await asyncio.gather(*(client.get(f"/items/{i}") for i in BASKET))
    return {"items": [a.json() for a in answers]}


@app.get("/dashboard/{user_id}")
async def dashboard(user_id: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=UPSTREAM) as client:
        user = (await client.get(f"/users/{user_id}?delay=30")).json()  # sequential: dashboard
        orders = (await client.get(f"/orders/{user_id}?delay=30")).json()
        stock = (await client.get(f"/stock/{user_id}?delay=30")).json()
    return {"user": user, "orders": orders, "stock": stock}


@app.get("/dashboard/{user_id}/fixed")
async def dashboard_fixed(user_id: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=UPSTREAM) as client:
        user, orders, stock = await asyncio.gather(
            client.get(f"/users/{user_id}?delay=30"),
            client.get(f"/orders/{user_id}?delay=30"),
            client.get(f"/stock/{user_id}?delay=30"),
        )
    return {"user": user.json(), "orders": orders.json(), "stock": stock.json()}


@app.get("/profile/{user_id}")
async def profile(user_id: int) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=None) as client:
        return (await client.get(f"{UPSTREAM}/users/{user_id}")).json()  # no-timeout: profile


@app.get("/profile/{user_id}/fixed")
async def profile_fixed(user_id: int) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0)) as client:
        return (await client.get(f"{UPSTREAM}/users/{user_id}")).json()

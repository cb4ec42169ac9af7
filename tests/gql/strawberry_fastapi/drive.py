"""Serve the app in-process over ASGI (httpx) and post each operation once."""

from __future__ import annotations

import asyncio
import json
import sys

import httpx
from app import app, seed

QUERY = "query PostList { posts { title author { name } } }"
ANONYMOUS = "{ posts { id } }"


async def main() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for path, document in (
            ("/graphql", QUERY),
            ("/fixed/graphql", QUERY),
            ("/graphql", ANONYMOUS),
        ):
            response = await client.post(path, json={"query": document})
            body = response.json()
            assert response.status_code == 200 and "errors" not in body, body
            print(path, json.dumps(body)[:80], file=sys.stderr)


seed()
asyncio.run(main())

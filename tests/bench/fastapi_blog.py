"""A FastAPI (ASGI) blog: ``/articles`` has an N+1, ``/articles/fixed`` joins."""

from __future__ import annotations

from fastapi import FastAPI

from tests.bench import blogdb

app = FastAPI()


@app.get("/articles")
def articles() -> list[dict[str, object]]:
    return blogdb.articles_n_plus_one()


@app.get("/articles/fixed")
def articles_fixed() -> list[dict[str, object]]:
    return blogdb.articles_fixed()

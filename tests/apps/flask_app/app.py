"""A Flask blog on plain SQLAlchemy 2 (no Flask-SQLAlchemy).

``/articles`` has an N+1: each article's author is lazy-loaded inside the loop.
``/articles/fixed`` is the same page with the relations eagerly loaded.
"""

from __future__ import annotations

import os

from db import engine
from flask import Flask, abort, jsonify
from models import Article
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

app = Flask(__name__)


@app.get("/articles")
def article_list():
    with Session(engine) as session:
        articles = session.scalars(select(Article).order_by(Article.id)).all()
        items = []
        for article in articles:  # loop: article_list
            author = article.author.name  # n+1: article_list
            items.append({"id": article.id, "title": article.title, "author": author})
        return jsonify(items)


@app.get("/articles/fixed")
def article_list_fixed():
    with Session(engine) as session:
        query = (
            select(Article)
            .options(joinedload(Article.author), selectinload(Article.tags))
            .order_by(Article.id)
        )
        articles = session.scalars(query).unique().all()
        items = []
        for article in articles:
            items.append(
                {
                    "id": article.id,
                    "title": article.title,
                    "author": article.author.name,
                    "tags": [tag.name for tag in article.tags],
                }
            )
        return jsonify(items)


@app.get("/articles/<int:id>")
def article_detail(id: int):
    with Session(engine) as session:
        article = session.get(Article, id)
        if article is None:
            abort(404)
        return jsonify(
            {
                "id": article.id,
                "title": article.title,
                "author": article.author.name,
                "tags": sorted(tag.name for tag in article.tags),
            }
        )


@app.get("/pid")
def pid():
    """Which worker process answered (tests count the processes that served)."""
    return jsonify({"pid": os.getpid()})

"""A FastAPI + SQLAlchemy list endpoint for ``benchmarks/app_overhead.py``: 40 queries
a request.

``GET /articles/`` lists 39 articles with their author's name, each author
lazy-loaded on its own (the N+1 a list endpoint often has): one query for the
list and one per article.  The SQLite file is ``$BENCH_DB``; ``python
list_fastapi.py seed`` creates it.  Served as ``list_fastapi:app``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from fastapi import FastAPI
from sqlalchemy import ForeignKey, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

ARTICLES = 39

engine = create_engine(f"sqlite:///{os.environ['BENCH_DB']}")


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Article(Base):
    __tablename__ = "article"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str]
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship()


app = FastAPI()


@app.get("/articles/")
def list_articles() -> list[dict[str, Any]]:
    with Session(engine) as session:
        articles = session.scalars(select(Article).order_by(Article.id).limit(ARTICLES)).all()
        return [
            {"id": a.id, "title": a.title, "body": a.body, "author_name": a.author.name}
            for a in articles
        ]


def seed() -> None:
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        authors = [Author(name=f"author {i}") for i in range(ARTICLES)]
        session.add_all(authors)
        session.add_all(
            Article(title=f"article {i}", body="text " * 40, author=authors[i])
            for i in range(ARTICLES)
        )
        session.commit()


if __name__ == "__main__" and sys.argv[1:] == ["seed"]:
    seed()

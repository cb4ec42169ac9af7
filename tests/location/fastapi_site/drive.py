"""A FastAPI + SQLAlchemy site requested through Starlette's test client; run it under
``perfdoctor run``.  Sync endpoints run in a worker thread (the trace's anchor is
on the event loop's), async ones on the loop."""

import sys
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import ForeignKey, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.pool import StaticPool

engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship()


Base.metadata.create_all(engine)
with Session(engine) as seeding:
    authors = [Author(name=f"author {i}") for i in range(6)]
    seeding.add_all(authors)
    seeding.add_all(Book(title=f"book {i}", author=authors[i % 6]) for i in range(12))
    seeding.commit()

app = FastAPI()


def count_books(session: Session) -> int:
    return len(session.scalars(select(Book.id)).all())


@app.get("/books")
def books() -> list[dict[str, Any]]:
    with Session(engine) as session:
        listed = session.scalars(select(Book).order_by(Book.id)).all()
        total = count_books(session)
        rows = [{"title": b.title, "author": b.author.name} for b in listed]
        again = count_books(session)
        return [*rows, {"total": total, "again": again}]


@app.get("/async-books")
async def async_books() -> list[str]:
    with Session(engine) as session:
        listed = session.scalars(select(Book).order_by(Book.id)).all()
        return [b.author.name for b in listed]


client = TestClient(app)


def fetch(path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, (response.status_code, response.text[:500])


list(map(fetch, sys.argv[1:]))

"""A plain SQLAlchemy ORM script with an N+1: ``python sa_script.py DATABASE_URL``."""

from __future__ import annotations

import sys

from sqlalchemy import ForeignKey, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

BOOKS = 10


class Base(DeclarativeBase):
    pass


class Publisher(Base):
    __tablename__ = "publishers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Book(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    publisher_id: Mapped[int] = mapped_column(ForeignKey("publishers.id"))
    publisher: Mapped[Publisher] = relationship()


def main(url: str) -> None:
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for number in range(BOOKS):
            session.add(Book(title=f"Book {number}", publisher=Publisher(name=f"P{number}")))
        session.commit()
    with Session(engine) as session:
        books = session.scalars(select(Book).order_by(Book.id)).all()
        for book in books:  # loop: sa_script
            print(book.title, book.publisher.name)  # n+1: sa_script


if __name__ == "__main__":
    main(sys.argv[1])

"""SQLAlchemy 1.4-style models (``declarative_base`` + ``Column``), importable on
1.3, 1.4 and 2.x with nothing but SQLAlchemy: the catalog's 1.4 test runs this
module in a second interpreter, and the N+1 fix tests reuse it.

- ``Author`` (authors): ``books`` one-to-many, the reverse of ``Book.author``'s
  ``backref("books")``; ``reviews`` lazy="dynamic"; ``bio`` one-to-one through
  ``AuthorBio.author``'s ``backref(..., uselist=False)``;
- ``Book`` (books): ``author`` many-to-one (column ``writer_id``); ``genres``
  many-to-many through the ``book_genres`` association table (back_populates
  ``Genre.books``); ``reviews`` one-to-many back_populates ``Review.book``;
- ``Review`` (reviews): ``book`` and ``author`` many-to-one, lazy="joined"
  on ``book``;
- ``Genre`` (genres): ``books`` many-to-many, lazy="selectin";
- ``Person`` (people) / ``Editor`` (editors): joined-table inheritance,
  ``Editor.favourite`` many-to-one to Book.

``make_engine()`` gives a SQLite in-memory engine with the tables created.
"""

from sqlalchemy import Column, ForeignKey, Integer, String, Table, create_engine
from sqlalchemy.orm import backref, relationship

try:
    from sqlalchemy.orm import declarative_base
except ImportError:  # SQLAlchemy 1.3
    from sqlalchemy.ext.declarative import declarative_base

Base = declarative_base()

book_genres = Table(
    "book_genres",
    Base.metadata,
    Column("book_id", Integer, ForeignKey("books.id"), primary_key=True),
    Column("genre_id", Integer, ForeignKey("genres.id"), primary_key=True),
)


class Author(Base):
    __tablename__ = "sa_authors"
    id = Column(Integer, primary_key=True)
    name = Column(String(50))
    reviews = relationship("Review", lazy="dynamic", back_populates="author")


class AuthorBio(Base):
    __tablename__ = "author_bios"
    id = Column(Integer, primary_key=True)
    author_id = Column(Integer, ForeignKey("sa_authors.id"), unique=True)
    text = Column(String(200))
    author = relationship(Author, backref=backref("bio", uselist=False))


class Book(Base):
    __tablename__ = "books"
    id = Column(Integer, primary_key=True)
    title = Column("title", String(100))
    writer_id = Column(Integer, ForeignKey("sa_authors.id"))
    author = relationship(Author, backref="books")
    genres = relationship("Genre", secondary=book_genres, back_populates="books")
    reviews = relationship("Review", back_populates="book")


class Review(Base):
    __tablename__ = "reviews"
    id = Column(Integer, primary_key=True)
    book_id = Column(Integer, ForeignKey("books.id"))
    author_id = Column(Integer, ForeignKey("sa_authors.id"))
    stars = Column(Integer)
    book = relationship(Book, back_populates="reviews", lazy="joined")
    author = relationship(Author, back_populates="reviews")


class Genre(Base):
    __tablename__ = "genres"
    id = Column(Integer, primary_key=True)
    name = Column(String(50))
    books = relationship(Book, secondary=book_genres, back_populates="genres", lazy="selectin")


class Person(Base):
    __tablename__ = "people"
    id = Column(Integer, primary_key=True)
    kind = Column(String(20))
    name = Column(String(50))
    __mapper_args__ = {"polymorphic_on": kind, "polymorphic_identity": "person"}


class Editor(Person):
    __tablename__ = "editors"
    id = Column(Integer, ForeignKey("people.id"), primary_key=True)
    favourite_id = Column(Integer, ForeignKey("books.id"))
    favourite = relationship(Book)
    __mapper_args__ = {"polymorphic_identity": "editor"}


def make_engine(url="sqlite://"):  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    return engine

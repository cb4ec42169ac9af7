"""A Flask app on plain SQLAlchemy, the same code from Flask 1.1 with SQLAlchemy
1.3 to Flask 3 with SQLAlchemy 2; the SQLite file comes from MX_DATABASE."""

import os

from flask import Flask, jsonify
from sqlalchemy import Column, ForeignKey, Integer, String, create_engine
from sqlalchemy.orm import joinedload, relationship, sessionmaker
from sqlalchemy.pool import QueuePool

try:
    from sqlalchemy.orm import declarative_base
except ImportError:  # SQLAlchemy 1.3
    from sqlalchemy.ext.declarative import declarative_base

Base = declarative_base()


class Author(Base):
    __tablename__ = "authors"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False)


class Book(Base):
    __tablename__ = "books"
    id = Column(Integer, primary_key=True)
    title = Column(String(100), nullable=False)
    author_id = Column(Integer, ForeignKey("authors.id"), nullable=False)
    author = relationship(Author, backref="books")


# A pool, as SQLAlchemy 2 has by default for a SQLite file (1.3 and 1.4 open a
# connection per session): connections are reused across requests.
engine = create_engine(
    "sqlite:///" + os.environ["MX_DATABASE"],
    poolclass=QueuePool,
    connect_args={"check_same_thread": False},
)
Session = sessionmaker(bind=engine)
app = Flask(__name__)


@app.route("/books")
def books():
    session = Session()
    try:
        rows = []
        for book in session.query(Book).order_by(Book.id):
            rows.append({"title": book.title, "author": book.author.name})  # N+1
        return jsonify(books=rows)
    finally:
        session.close()


@app.route("/books/fixed")
def books_fixed():
    session = Session()
    try:
        rows = []
        for book in session.query(Book).options(joinedload(Book.author)).order_by(Book.id):
            rows.append({"title": book.title, "author": book.author.name})
        return jsonify(books=rows)
    finally:
        session.close()

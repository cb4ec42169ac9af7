"""The demo's data model: a small blog, declared the SQLAlchemy 2 way."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


article_tags = Table(
    "article_tags",
    Base.metadata,
    Column("article_id", ForeignKey("articles.id"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id"), primary_key=True),
)


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(120), unique=True)
    bio: Mapped[str] = mapped_column(Text)
    joined_at: Mapped[datetime] = mapped_column(DateTime)

    articles: Mapped[list[Article]] = relationship(back_populates="author")


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(DateTime, index=True)

    # Lazy ("select") loading, SQLAlchemy's default: touching `article.author`
    # or `article.tags` on an article loaded without them issues a query.
    author: Mapped[Author] = relationship(back_populates="articles")
    tags: Mapped[list[Tag]] = relationship(secondary=article_tags)
    comments: Mapped[list[Comment]] = relationship(back_populates="article")


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    # No index on the commenter: nothing in the app looked comments up by author
    # until the "top commenters" page came along.
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    article: Mapped[Article] = relationship(back_populates="comments")
    author: Mapped[Author] = relationship()


# How much data a seeded demo database holds.
SIZES: dict[str, int] = {"authors": 150, "tags": 50, "articles": 3_000, "comments": 20_000}
# Bump when the schema or the generated data changes: older files are re-seeded.
SEED_VERSION = 1

# One row per fact about the seeded data (its seed version), so a later run can
# tell a finished demo database from a half-written or foreign file.
demo_meta = Table(
    "demo_meta",
    Base.metadata,
    Column("key", String(40), primary_key=True),
    Column("value", Integer, nullable=False),
)

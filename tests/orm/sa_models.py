"""SQLAlchemy 2.x declarative models (``Mapped``) holding every relation kind
perfdoctor must name in a fix; shared by the catalog tests and the N+1 fix tests.

Tables and what each class holds:

- ``User`` (users): ``profile`` one-to-one (``uselist=False`` side,
  back_populates ``Profile.user``); ``posts`` one-to-many back_populates
  ``Post.owner``; ``notifications`` ``WriteOnlyMapped`` (lazy="write_only");
- ``Profile`` (profiles): ``user`` many-to-one;
- ``Post`` (posts): ``owner`` many-to-one to User through column ``owner_id``
  (attribute and table names differ: no guess from "users" gives ``owner``);
  ``category`` many-to-one; ``tags`` many-to-many through the ``post_tags``
  association table (back_populates ``Tag.posts``); ``comments`` one-to-many
  declared with ``backref="post"`` (so ``Comment.post`` exists only by backref);
- ``Category`` (categories): ``posts`` lazy="dynamic" (``DynamicMapped``);
- ``Comment`` (sa_comments): ``post`` (backref), ``author`` many-to-one to User;
  the chain ``Comment.post -> Post.owner -> User.profile``;
- ``Tag`` (sa_tags): ``posts`` many-to-many;
- ``Notification`` (notifications): the write-only side's target;
- ``Employee`` (employees) / ``Engineer`` (engineers): joined-table
  inheritance; ``Engineer.mentor`` many-to-one to User.

Tables that other test modules (and the bundled demo) also name carry an ``sa_``
prefix: every model of the test process is in one catalog, and one table name
mapped twice is ambiguous to the fixes.

Use ``make_engine()`` for a SQLite in-memory engine with the tables created.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, String, Table, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    DynamicMapped,
    Mapped,
    WriteOnlyMapped,
    mapped_column,
    relationship,
)


class Base(DeclarativeBase):
    pass


post_tags = Table(
    "post_tags",
    Base.metadata,
    Column("post_id", ForeignKey("posts.id"), primary_key=True),
    Column("tag_id", ForeignKey("sa_tags.id"), primary_key=True),
)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    profile: Mapped[Profile] = relationship(back_populates="user", uselist=False)
    posts: Mapped[list[Post]] = relationship(back_populates="owner")
    notifications: WriteOnlyMapped[Notification] = relationship()


class Profile(Base):
    __tablename__ = "profiles"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    bio: Mapped[str] = mapped_column(String(200), default="")
    user: Mapped[User] = relationship(back_populates="profile")


class Category(Base):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    posts: DynamicMapped[Post] = relationship(lazy="dynamic", back_populates="category")


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    owner: Mapped[User] = relationship(back_populates="posts")
    category: Mapped[Category | None] = relationship(back_populates="posts")
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, back_populates="posts")
    comments = relationship("Comment", backref="post")


class Comment(Base):
    __tablename__ = "sa_comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(String(200))
    author: Mapped[User] = relationship()


class Tag(Base):
    __tablename__ = "sa_tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    posts: Mapped[list[Post]] = relationship(secondary=post_tags, back_populates="tags")


class Notification(Base):
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(String(100))


class Employee(Base):
    __tablename__ = "employees"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    type: Mapped[str] = mapped_column(String(20))
    __mapper_args__ = {"polymorphic_on": "type", "polymorphic_identity": "employee"}


class Engineer(Employee):
    __tablename__ = "engineers"
    id: Mapped[int] = mapped_column(ForeignKey("employees.id"), primary_key=True)
    language: Mapped[str] = mapped_column(String(20))
    mentor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    mentor: Mapped[User | None] = relationship()
    __mapper_args__ = {"polymorphic_identity": "engineer"}


def make_engine(url: str = "sqlite://") -> Engine:
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    return engine

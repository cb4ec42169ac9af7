"""Flask + SQLAlchemy 2 + marshmallow + Jinja2: loops that run in a library."""

from __future__ import annotations

from flask import Flask, render_template
from marshmallow import Schema, fields
from sqlalchemy import ForeignKey, String, create_engine, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
)
from sqlalchemy.pool import StaticPool


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Post(Base):
    __tablename__ = "post"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship()
    comments: Mapped[list[Comment]] = relationship()


class Comment(Base):
    __tablename__ = "comment"
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id"))
    body: Mapped[str] = mapped_column(String(200))


class AuthorSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class PostSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    author = fields.Nested(AuthorSchema)


engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
app = Flask(__name__)


def seed() -> None:
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        authors = [Author(name=f"author {i}") for i in range(8)]
        session.add_all(authors)
        session.add_all(
            Post(title=f"post {i}", author=authors[i % 8], comments=[Comment(body="first")])
            for i in range(12)
        )
        session.commit()


@app.get("/posts")
def posts() -> list[dict[str, object]]:
    with Session(engine) as session:
        stmt = select(Post).order_by(Post.id)
        rows = session.scalars(stmt).all()
        return PostSchema(many=True).dump(rows)


@app.get("/posts/fixed")
def posts_fixed() -> list[dict[str, object]]:
    with Session(engine) as session:
        stmt = select(Post).options(joinedload(Post.author)).order_by(Post.id)
        rows = session.scalars(stmt).all()
        return PostSchema(many=True).dump(rows)


@app.get("/page")
def page() -> str:
    with Session(engine) as session:
        rows = session.scalars(select(Post).order_by(Post.id)).all()
        return render_template("posts.html", posts=rows)


@app.get("/page/fixed")
def page_fixed() -> str:
    with Session(engine) as session:
        rows = session.scalars(select(Post).options(joinedload(Post.author)).order_by(Post.id))
        return render_template("posts.html", posts=rows.all())


@app.get("/details")
def details() -> str:
    """One loop reading two relations a row: each post's author and its comments."""
    with Session(engine) as session:
        rows = session.scalars(select(Post).order_by(Post.id)).all()
        return render_template("details.html", posts=rows)


@app.get("/details/fixed")
def details_fixed() -> str:
    with Session(engine) as session:
        # The report's fix for both relations together, as printed.
        stmt = select(Post).options(joinedload(Post.author), selectinload(Post.comments))
        rows = session.scalars(stmt.order_by(Post.id)).unique().all()
        return render_template("details.html", posts=rows)


def author_name(session: Session, author_id: int) -> str:
    return session.scalars(select(Author.name).where(Author.id == author_id)).one()


@app.get("/headline")
def headline() -> dict[str, str]:
    with Session(engine) as session:
        title = author_name(session, 1)
        byline = author_name(session, 1)
        footer = [author_name(session, 1) for _ in range(2)][-1]
        return {"title": title, "byline": byline, "footer": footer}


@app.get("/headline/fixed")
def headline_fixed() -> dict[str, str]:
    with Session(engine) as session:
        name = author_name(session, 1)
        return {"title": name, "byline": name, "footer": name}

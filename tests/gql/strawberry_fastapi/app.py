"""A blog API on Strawberry, FastAPI and SQLAlchemy (SQLite file in GQL_DATABASE).

``/graphql``: ``Post.author`` lazy-loads each post's author, once per post the
executor resolves.  ``/fixed/graphql``: the same schema with the author batched
by a Strawberry DataLoader, one query for every post.
"""

from __future__ import annotations

import os
from typing import Any

import strawberry
from fastapi import FastAPI
from sqlalchemy import ForeignKey, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from strawberry.dataloader import DataLoader
from strawberry.fastapi import GraphQLRouter

engine = create_engine(f"sqlite:///{os.environ['GQL_DATABASE']}")


class Base(DeclarativeBase):
    pass


class AuthorRow(Base):
    __tablename__ = "gql_author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class PostRow(Base):
    __tablename__ = "gql_post"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    author_id: Mapped[int] = mapped_column(ForeignKey("gql_author.id"))
    author: Mapped[AuthorRow] = relationship()


@strawberry.type
class Author:
    id: int
    name: str


@strawberry.type
class Post:
    id: int
    title: str

    @strawberry.field
    def author(self, info: strawberry.Info) -> Author:
        return self.author  # type: ignore[return-value]  # n+1: Post.author


@strawberry.type
class Query:
    @strawberry.field
    def posts(self, info: strawberry.Info) -> list[Post]:
        session: Session = info.context["session"]
        return session.scalars(select(PostRow).order_by(PostRow.id)).all()  # type: ignore[return-value]  # root


@strawberry.type
class BatchedPost:
    id: int
    title: str

    @strawberry.field
    async def author(self, info: strawberry.Info) -> Author:
        return await info.context["authors"].load(self.author_id)  # type: ignore[attr-defined, no-any-return]


@strawberry.type
class FixedQuery:
    @strawberry.field
    def posts(self, info: strawberry.Info) -> list[BatchedPost]:
        session: Session = info.context["session"]
        return session.scalars(select(PostRow).order_by(PostRow.id)).all()  # type: ignore[return-value]


def _authors(session: Session) -> DataLoader[int, AuthorRow]:
    async def load(keys: list[int]) -> list[AuthorRow]:
        rows = session.scalars(select(AuthorRow).where(AuthorRow.id.in_(keys)))
        by_id = {row.id: row for row in rows}
        return [by_id[key] for key in keys]

    return DataLoader(load_fn=load)


async def context() -> dict[str, Any]:
    session = Session(engine)
    return {"session": session, "authors": _authors(session)}


app = FastAPI()
app.include_router(GraphQLRouter(strawberry.Schema(Query), context_getter=context), prefix="/graphql")
app.include_router(
    GraphQLRouter(strawberry.Schema(FixedQuery), context_getter=context), prefix="/fixed/graphql"
)


def seed() -> None:
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        authors = [AuthorRow(name=f"author {i}") for i in range(6)]
        session.add_all(authors)
        session.add_all(PostRow(title=f"post {i}", author=authors[i % 6]) for i in range(12))
        session.commit()

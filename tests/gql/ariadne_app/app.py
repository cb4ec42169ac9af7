"""A blog API on Ariadne's own ASGI app over sqlite3 (the file named by GQL_DATABASE).

``posts``: ``Post.author`` selects each post's author, once per post the executor
resolves.  ``postsFixed``: ``BatchedPost.author`` asks an aiodataloader DataLoader,
which selects every author the page needs in one query.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from aiodataloader import DataLoader
from ariadne import ObjectType, QueryType, make_executable_schema
from ariadne.asgi import GraphQL

TYPE_DEFS = """
type Query {
  posts: [Post!]!
  postsFixed: [BatchedPost!]!
}
type Author { id: ID! name: String! }
type Post { id: ID! title: String! author: Author! }
type BatchedPost { id: ID! title: String! author: Author! }
"""

query = QueryType()
post = ObjectType("Post")
batched_post = ObjectType("BatchedPost")


@query.field("posts")
@query.field("postsFixed")
def resolve_posts(_: Any, info: Any) -> list[dict[str, Any]]:
    db: sqlite3.Connection = info.context["db"]
    rows = db.execute("SELECT id, title, author_id FROM gql_post ORDER BY id").fetchall()
    return [{"id": i, "title": title, "author_id": author} for i, title, author in rows]


@post.field("author")
def resolve_author(row: dict[str, Any], info: Any) -> dict[str, Any]:
    db: sqlite3.Connection = info.context["db"]
    found = db.execute(  # n+1: Post.author
        "SELECT id, name FROM gql_author WHERE id = ?", (row["author_id"],)
    ).fetchone()
    return {"id": found[0], "name": found[1]}


class AuthorLoader(DataLoader):  # type: ignore[misc]
    def __init__(self, db: sqlite3.Connection) -> None:
        super().__init__()
        self.db = db

    async def batch_load_fn(self, keys: list[int]) -> list[dict[str, Any] | None]:
        marks = ", ".join("?" for _ in keys)
        rows = self.db.execute(f"SELECT id, name FROM gql_author WHERE id IN ({marks})", keys)
        by_id = {i: {"id": i, "name": name} for i, name in rows}
        return [by_id.get(key) for key in keys]


@batched_post.field("author")
async def resolve_batched_author(row: dict[str, Any], info: Any) -> Any:
    return await info.context["authors"].load(row["author_id"])


def context(request: Any, data: Any) -> dict[str, Any]:
    db = sqlite3.connect(os.environ["GQL_DATABASE"])
    return {"db": db, "authors": AuthorLoader(db)}


schema = make_executable_schema(TYPE_DEFS, query, post, batched_post)
app = GraphQL(schema, context_value=context)


def seed() -> None:
    with sqlite3.connect(os.environ["GQL_DATABASE"]) as db:
        db.execute("CREATE TABLE gql_author (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        db.execute(
            "CREATE TABLE gql_post (id INTEGER PRIMARY KEY, title TEXT NOT NULL,"
            " author_id INTEGER NOT NULL REFERENCES gql_author (id))"
        )
        db.executemany("INSERT INTO gql_author (id, name) VALUES (?, ?)",
                       [(i, f"author {i}") for i in range(1, 7)])
        db.executemany("INSERT INTO gql_post (title, author_id) VALUES (?, ?)",
                       [(f"post {i}", i % 6 + 1) for i in range(12)])


if __name__ == "__main__":
    seed()

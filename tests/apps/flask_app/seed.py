"""Create the schema and the sample data: ``python seed.py`` (run before the server).

Every article has its own author, so listing ARTICLES articles and reading each
one's author costs one lazy load per article.
"""

from __future__ import annotations

from db import engine
from models import Article, Author, Base, Tag
from sqlalchemy.orm import Session

ARTICLES = 12
TAGS = ("python", "sql", "web", "performance")


def seed() -> None:
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        tags = [Tag(name=name) for name in TAGS]
        session.add_all(tags)
        for number in range(1, ARTICLES + 1):
            author = Author(name=f"Author {number}")
            session.add(
                Article(
                    title=f"Article {number}",
                    body=f"Body of article {number}",
                    author=author,
                    tags=[tags[number % len(tags)], tags[(number + 1) % len(tags)]],
                )
            )
        session.commit()


if __name__ == "__main__":
    seed()

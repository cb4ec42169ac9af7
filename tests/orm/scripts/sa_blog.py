"""tests/orm/sa_models.py in a plain script with an N+1 over ``Post.owner``:
``python sa_blog.py DATABASE_URL``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.orm.sa_models import Post, User, make_engine


def main(url: str) -> None:
    engine = make_engine(url)
    with Session(engine) as session:
        for n in range(5):
            session.add(Post(title=f"post {n}", owner=User(name=f"user {n}")))
        session.commit()
    with Session(engine) as session:
        for post in session.scalars(select(Post)):
            print(post.owner.name)


if __name__ == "__main__":
    main(sys.argv[1])

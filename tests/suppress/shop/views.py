from shop.models import Post
from sqlalchemy import select
from sqlalchemy.orm import Session


def post_titles(session: Session) -> list[str]:
    lines = []
    for post in session.scalars(select(Post)).all():
        lines.append(f"{post.title} by {post.author.name}")
    return lines

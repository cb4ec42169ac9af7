from shop.models import Post
from sqlalchemy import select
from sqlalchemy.orm import Session


def comment_counts(session: Session) -> dict[str, int]:
    counts = {}
    for post in session.scalars(select(Post)).all():
        counts[post.title] = len(post.comments)
    return counts

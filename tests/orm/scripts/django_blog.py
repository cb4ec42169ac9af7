"""The ``blog`` test app (tests/orm/django_models) in a plain script with an N+1:
comments, then each comment's post's owner's user."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from tests.orm import django_env


def main() -> None:
    django_env.setup()
    from django.contrib.auth.models import User
    from tests.orm.django_models.models import Comment, Post, Profile

    for n in range(5):
        user = User.objects.create(username=f"u{n}")
        post = Post.objects.create(title=f"post {n}", owner=Profile.objects.create(user=user))
        Comment.objects.create(post=post, author=user, body="hi")
    for comment in Comment.objects.all():
        print(comment.post.owner.user.username)


if __name__ == "__main__":
    main()

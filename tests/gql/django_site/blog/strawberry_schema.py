"""The blog on Strawberry's Django view: ``posts`` lazy-loads each post's author in
``PostType.author``; ``postsFixed`` returns the posts with their authors joined."""

from __future__ import annotations

import strawberry

from blog.models import Post


@strawberry.type
class AuthorType:
    name: str


@strawberry.type
class PostType:
    title: str

    @strawberry.field
    def author(self) -> AuthorType:
        return self.author  # type: ignore[return-value]  # n+1: PostType.author


@strawberry.type
class Query:
    @strawberry.field
    def posts(self) -> list[PostType]:
        return list(Post.objects.order_by("id"))  # type: ignore[arg-type]

    @strawberry.field
    def posts_fixed(self) -> list[PostType]:
        return list(Post.objects.select_related("author").order_by("id"))  # type: ignore[arg-type]


schema = strawberry.Schema(Query)

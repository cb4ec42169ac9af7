"""The blog on graphene-django: ``posts`` leaves ``author`` to graphene-django's
default resolver (a lazy load per post) and counts each post's comments in
``resolve_comment_count``; ``postsFixed`` joins the authors and annotates the
counts in the root resolver."""

from __future__ import annotations

from typing import Any

import graphene
from django.db.models import Count, QuerySet
from graphene_django import DjangoObjectType

from blog.models import Author, Post


class AuthorNode(DjangoObjectType):
    class Meta:
        model = Author
        fields = ("id", "name")


class PostNode(DjangoObjectType):
    comment_count = graphene.Int()

    class Meta:
        model = Post
        fields = ("id", "title", "author")

    @staticmethod
    def resolve_comment_count(root: Post, info: Any) -> int:
        counted = getattr(root, "n_comments", None)
        return counted if counted is not None else root.comments.count()  # n+1: comment_count


class Query(graphene.ObjectType):
    posts = graphene.List(PostNode)
    posts_fixed = graphene.List(PostNode)

    @staticmethod
    def resolve_posts(root: Any, info: Any) -> QuerySet[Post]:
        return Post.objects.order_by("id")  # root resolver: posts

    @staticmethod
    def resolve_posts_fixed(root: Any, info: Any) -> QuerySet[Post]:
        posts = Post.objects.select_related("author").annotate(n_comments=Count("comments"))
        return posts.order_by("id")


schema = graphene.Schema(query=Query)

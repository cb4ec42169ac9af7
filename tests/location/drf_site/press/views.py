from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.generic import ListView
from rest_framework import generics, viewsets

from press.models import Author, Comment, Post
from press.serializers import (
    PostAuthorNameSerializer,
    PostCommentsSerializer,
    PostSerializer,
    PostWithCommentsSerializer,
)


class PostViewSet(viewsets.ModelViewSet):
    serializer_class = PostSerializer
    queryset = Post.objects.order_by("id")


class FixedPostViewSet(viewsets.ModelViewSet):
    serializer_class = PostSerializer
    queryset = Post.objects.select_related("author").order_by("id")


class PostAuthorNames(generics.ListAPIView):
    serializer_class = PostAuthorNameSerializer
    queryset = Post.objects.order_by("id")


class FixedPostAuthorNames(generics.ListAPIView):
    serializer_class = PostAuthorNameSerializer
    queryset = Post.objects.select_related("author").order_by("id")


class PostCommentCounts(generics.ListAPIView):
    serializer_class = PostCommentsSerializer

    def get_queryset(self) -> QuerySet[Post]:
        return Post.objects.order_by("id")


class FixedPostCommentCounts(generics.ListAPIView):
    serializer_class = PostCommentsSerializer

    def get_queryset(self) -> QuerySet[Post]:
        return Post.objects.prefetch_related("comments").order_by("id")


def post_page(request: HttpRequest) -> HttpResponse:
    posts = Post.objects.order_by("id")
    return render(request, "press/posts.html", {"posts": posts})


def fixed_post_page(request: HttpRequest) -> HttpResponse:
    posts = Post.objects.select_related("author").order_by("id")
    return render(request, "press/posts.html", {"posts": posts})


def front_page(request: HttpRequest) -> HttpResponse:
    """A hero post and two lists, each list's cards in an included template."""
    return render(
        request,
        "press/front.html",
        {
            "featured": Post.objects.order_by("-id").first(),
            "latest": Post.objects.order_by("-id")[:6],
            "oldest": Post.objects.order_by("id")[:6],
        },
    )


def fixed_front_page(request: HttpRequest) -> HttpResponse:
    posts = Post.objects.select_related("author")
    return render(
        request,
        "press/front.html",
        {
            "featured": posts.order_by("-id").first(),
            "latest": posts.order_by("-id")[:6],
            "oldest": posts.order_by("id")[:6],
        },
    )


def details_page(request: HttpRequest) -> HttpResponse:
    """One loop reading two relations a row: each post's author and its comments."""
    return render(request, "press/details.html", {"posts": Post.objects.order_by("id")})


def fixed_details_page(request: HttpRequest) -> HttpResponse:
    # The report's fix for both relations together, as printed.
    posts = Post.objects.order_by("id").select_related("author").prefetch_related("comments")
    return render(request, "press/details.html", {"posts": posts})


def cached_page(request: HttpRequest) -> HttpResponse:
    """Each post's author read a row at a time in every request, its comments only
    until the template's cache holds them (as Wagtail caches image renditions)."""
    return render(request, "press/cached.html", {"posts": Post.objects.order_by("id")})


class PostListPage(ListView):
    template_name = "press/posts.html"
    context_object_name = "posts"
    queryset = Post.objects.order_by("id")


class FixedPostListPage(ListView):
    template_name = "press/posts.html"
    context_object_name = "posts"
    queryset = Post.objects.select_related("author").order_by("id")


class PostsWithComments(generics.ListAPIView):
    serializer_class = PostWithCommentsSerializer
    queryset = Post.objects.order_by("id")


class FixedPostsWithComments(generics.ListAPIView):
    serializer_class = PostWithCommentsSerializer
    queryset = Post.objects.prefetch_related("comments").order_by("id")


def dashboard(request: HttpRequest) -> JsonResponse:
    """A dashboard's dozen queries, each from its own line, all issued by Django
    from the same frame."""
    return JsonResponse(
        {
            "posts": Post.objects.count(),
            "authors": Author.objects.count(),
            "comments": Comment.objects.count(),
            "first_post": Post.objects.order_by("id").values_list("title", flat=True).first(),
            "last_post": Post.objects.order_by("-id").values_list("title", flat=True).first(),
            "busy_authors": Author.objects.filter(posts__isnull=False).distinct().count(),
            "commented": Post.objects.filter(comments__isnull=False).distinct().count(),
            "has_comments": Comment.objects.exists(),
            "titles": list(Post.objects.values_list("title", flat=True)[:3]),
            "names": list(Author.objects.values_list("name", flat=True)[:3]),
            "bodies": list(Comment.objects.values_list("body", flat=True)[:3]),
            "author_one": Author.objects.filter(pk=1).values_list("name", flat=True).first(),
        }
    )

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.generic import ListView
from rest_framework import generics, viewsets

from press.models import Post
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

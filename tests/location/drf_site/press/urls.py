from django.urls import path
from django.views.generic import TemplateView
from rest_framework.routers import SimpleRouter

from press import views
from press.models import Post

router = SimpleRouter()
router.register("posts", views.PostViewSet, basename="post")
router.register("fixed/posts", views.FixedPostViewSet, basename="fixed-post")

urlpatterns = [
    path("author-names/", views.PostAuthorNames.as_view()),
    path("author-names/fixed/", views.FixedPostAuthorNames.as_view()),
    path("comment-counts/", views.PostCommentCounts.as_view()),
    path("comment-counts/fixed/", views.FixedPostCommentCounts.as_view()),
    path("page/", views.post_page),
    path("page/fixed/", views.fixed_post_page),
    path("with-comments/", views.PostsWithComments.as_view()),
    path("with-comments/fixed/", views.FixedPostsWithComments.as_view()),
    path("front/", views.front_page),
    path("front/fixed/", views.fixed_front_page),
    path("list-page/", views.PostListPage.as_view()),
    path("list-page/fixed/", views.FixedPostListPage.as_view()),
    path("details/", views.details_page),
    path("details/fixed/", views.fixed_details_page),
    path("cached/", views.cached_page),
    path("dashboard/", views.dashboard),
    # No view of the app's own: Django's TemplateView renders the app's template
    # (as Wagtail's serve() renders every page), a fresh queryset per request.
    path(
        "library-page/",
        TemplateView.as_view(
            template_name="press/posts.html",
            extra_context={"posts": lambda: Post.objects.order_by("id")},
        ),
    ),
    # The same, each row read at another depth of the template: the framework's
    # own queries, a dozen paths with no user frame ending at the trace's anchor.
    path(
        "nested-page/",
        TemplateView.as_view(
            template_name="press/nested.html",
            extra_context={"posts": lambda: Post.objects.order_by("id")},
        ),
    ),
    # A template node inside another, whose queries' stacks line up (see the template).
    path(
        "nested-if-page/",
        TemplateView.as_view(
            template_name="press/nested_if.html",
            extra_context={"posts": lambda: list(Post.objects.order_by("id"))},
        ),
    ),
    *router.urls,
]

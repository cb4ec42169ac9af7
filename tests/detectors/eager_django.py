"""Eager loads on the test site's Django models, one trace per case, captured in-process.

python eager_django.py TRACES.db

Run in its own process: Django is configured once per process, with the
test site's ``blog`` app on an in-memory SQLite database.  Each case is a
``perfdoctor.trace`` named after it; tests/detectors/test_unused_eager_load.py
reads what the detector makes of them.  A line marked ``# line: NAME`` is
where a case evaluates its queryset (the finding's location).
"""

from __future__ import annotations

import sys
from pathlib import Path

import perfdoctor

SITE = Path(__file__).resolve().parents[1] / "apps" / "django_site"
sys.path.insert(0, str(SITE))

perfdoctor.instrument(sys.argv[1])

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework", "blog"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
    USE_TZ=True,
    ROOT_URLCONF="__main__",
    ALLOWED_HOSTS=["testserver"],
    MIDDLEWARE=[],
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [],
        "DEFAULT_PERMISSION_CLASSES": [],
        "UNAUTHENTICATED_USER": None,
    },
)
django.setup()

from blog.models import Article, Author, Comment, Tag  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db.models import Prefetch  # noqa: E402
from django.template import engines  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework import generics, serializers  # noqa: E402

ROWS = 20


def seed() -> None:
    call_command("migrate", run_syncdb=True, verbosity=0)
    authors = [Author.objects.create(name=f"a{i}", email=f"a{i}@x.org") for i in range(5)]
    tags = [Tag.objects.create(name=f"t{i}") for i in range(4)]
    for i in range(ROWS):
        article = Article.objects.create(
            author=authors[i % 5], title=f"title {i}", slug=f"s{i}", body="..."
        )
        article.tags.set(tags[: i % 4])
        Comment.objects.create(article=article, name="c", body="...")


def select_related_unused() -> list[str]:
    articles = Article.objects.select_related("author").order_by("id")
    return [a.title for a in articles]  # line: select_related_unused


def prefetch_unused() -> list[str]:
    articles = Article.objects.prefetch_related("tags", "comments").order_by("id")
    return [a.title for a in articles]  # line: prefetch_unused


def prefetch_one_read_often() -> list[int]:
    # The template-loop shape (a real app's dashboard): one prefetched collection
    # read again and again, the other never.  The first is let go once known
    # used; the second must still be reported.
    articles = Article.objects.prefetch_related("comments", "tags").order_by("id")
    counts = []
    for article in articles:  # line: prefetch_one_read_often
        for _ in range(5):
            counts.append(len(article.comments.all()))
    return counts


def prefetch_object_unused() -> list[str]:
    tags = Prefetch("tags", queryset=Tag.objects.order_by("name"))
    articles = list(Article.objects.prefetch_related(tags))  # line: prefetch_object_unused
    return [a.slug for a in articles]


def get_unused() -> str:
    return Article.objects.select_related("author").get(slug="s3").title  # line: get_unused


def select_related_used_on_one_row() -> list[str]:
    articles = list(Article.objects.select_related("author").order_by("id"))
    first = articles[0].author.name
    return [first] + [a.title for a in articles]


def prefetch_used() -> list[int]:
    articles = Article.objects.prefetch_related("tags", "comments").order_by("id")
    out = []
    for article in articles:
        # count() and indexing answer from the prefetched rows, as iteration does
        out.append(article.tags.count() + len(article.comments.all()[:1]))
    return out


def reverse_single_prefetch_used() -> list[str]:
    comments = Comment.objects.prefetch_related("article").order_by("id")
    return [c.article.title for c in comments]


def used_in_template() -> str:
    template = engines["django"].from_string(
        "{% for a in articles %}{{ a.author.name }} {% for t in a.tags.all %}{{ t.name }}"
        "{% endfor %}{% endfor %}"
    )
    queryset = Article.objects.select_related("author").prefetch_related("tags")
    return template.render({"articles": queryset})


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["name"]


class ArticleSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.name")
    tags = TagSerializer(many=True)

    class Meta:
        model = Article
        fields = ["title", "author", "tags"]


def used_in_serializer() -> object:
    queryset = Article.objects.select_related("author").prefetch_related("tags")
    return ArticleSerializer(queryset, many=True).data


class TitleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Article
        fields = ["title"]


class TitleList(generics.ListAPIView):
    """A DRF view: the queryset is evaluated inside the library, below the view's get()."""

    queryset = Article.objects.select_related("author")
    serializer_class = TitleSerializer

    def get(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        return super().get(request, *args, **kwargs)  # line: drf_view


urlpatterns = [path("drf/titles/", TitleList.as_view())]


def no_eager_load() -> list[str]:
    return [a.title for a in Article.objects.order_by("id")]


def nested_prefetch_outer_unused() -> list[str]:
    authors = Author.objects.prefetch_related("articles__tags")
    return [a.name for a in authors]  # line: nested_prefetch_outer_unused


def nested_select_related_unused() -> list[str]:
    comments = Comment.objects.select_related("article", "article__author").order_by("id")
    return [c.name for c in comments]  # line: nested_select_related_unused


CASES = [
    select_related_unused,
    prefetch_unused,
    prefetch_one_read_often,
    prefetch_object_unused,
    get_unused,
    select_related_used_on_one_row,
    prefetch_used,
    reverse_single_prefetch_used,
    used_in_template,
    used_in_serializer,
    no_eager_load,
    nested_prefetch_outer_unused,
    nested_select_related_unused,
]

if __name__ == "__main__":
    seed()
    for case in CASES:
        with perfdoctor.trace(case.__name__, "http"):
            case()
    # Through Django's handler: the request is the trace, named by its route.
    assert Client().get("/drf/titles/").status_code == 200
    perfdoctor.uninstrument()

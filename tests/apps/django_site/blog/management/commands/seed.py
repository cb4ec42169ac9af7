"""``manage.py seed``: create the tables and a small, fixed data set (idempotent)."""

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from blog.models import Article, Author, Comment, Tag

AUTHORS = 20
ARTICLES = 40
TAGS = ("python", "django", "postgres", "mysql", "sqlite", "performance")


class Command(BaseCommand):
    help = "Migrate, then create 20 authors, 40 articles with tags and comments."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--secret-slug", help="also create an article with this slug")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", verbosity=0, interactive=False)
        with transaction.atomic():
            if not Author.objects.exists():
                self._create()
            secret = options.get("secret_slug")
            if secret and not Article.objects.filter(slug=secret).exists():
                Article.objects.create(
                    author=Author.objects.order_by("id").first(),
                    title="A private draft",
                    slug=secret,
                    body="...",
                )

    def _create(self) -> None:
        authors = Author.objects.bulk_create(
            Author(name=f"Author {i}", email=f"author{i}@example.com", bio=f"Writes about {i}.")
            for i in range(AUTHORS)
        )
        Tag.objects.bulk_create(Tag(name=name) for name in TAGS)
        Article.objects.bulk_create(
            Article(
                author=authors[i % AUTHORS],
                title=f"Article {i}",
                slug=f"article-{i}",
                body=f"Body of article {i}.",
            )
            for i in range(ARTICLES)
        )
        # Reloaded: bulk_create does not set primary keys on every backend.
        articles = list(Article.objects.order_by("id"))
        tags = list(Tag.objects.order_by("id"))
        through = Article.tags.through
        through.objects.bulk_create(
            through(article=article, tag=tags[(i + k) % len(tags)])
            for i, article in enumerate(articles)
            for k in range(2)
        )
        Comment.objects.bulk_create(
            Comment(article=article, name=f"Reader {k}", body="Nice.")
            for article in articles
            for k in range(2)
        )

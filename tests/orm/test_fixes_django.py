"""Django N+1 fixes name the relation the models declare, and applied, they work.

Each test runs a loop over the ``blog`` test app (tests/orm/django_models) under
capture, checks the finding's fix text, applies the machine-readable fix
(``evidence["orm_fix"]``) to the queryset and runs the loop again: the query
count must drop to what the fix promises.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.orm import django_env
from tests.orm.fix_support import apply_django, django_captured, n_plus_one, queries, run

ROWS = 6


def _review_model() -> Any:
    """Two foreign keys to the same table (auth.User), which SQL alone cannot tell
    apart: the call site's attribute name must."""
    from django.apps import apps
    from django.contrib.auth.models import User
    from django.db import models

    try:
        return apps.get_model("blog", "Review")
    except LookupError:
        pass

    class Review(models.Model):
        post = models.ForeignKey("blog.Post", on_delete=models.CASCADE)
        author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reviews_written")
        editor = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reviews_edited")

        class Meta:
            app_label = "blog"

    return Review


def _seed() -> None:
    from django.contrib.auth.models import User

    from tests.orm.django_models import models as m

    review = _review_model()
    users = [User.objects.create(username=f"user{i}") for i in range(ROWS)]
    profiles = [m.Profile.objects.create(user=u, bio=f"bio {i}") for i, u in enumerate(users)]
    tags = [m.Tag.objects.create(name=f"tag{i}") for i in range(ROWS)]
    for i, profile in enumerate(profiles):
        category = m.Category.objects.create(name=f"category {i}")
        post = m.Post.objects.create(title=f"post {i}", owner=profile, category=category)
        post.tags.add(tags[i], tags[(i + 1) % ROWS])
        for j in range(2):
            m.Comment.objects.create(post=post, author=users[(i + j) % ROWS], body=f"c{j}")
        m.Attachment.objects.create(content_object=post, filename=f"f{i}.png")
        team = m.Team.objects.create(name=f"team {i}")
        m.Membership.objects.create(team=team, profile=profile)
        m.Restaurant.objects.create(name=f"place {i}", chef=profile)
        review.objects.create(post=post, author=users[i], editor=users[(i + 1) % ROWS])


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    django_env.setup()
    _review_model()
    path = tmp_path_factory.mktemp("fixes") / "traces.db"
    with django_captured(path):
        _seed()
        yield path


def check(traces: Path, name: str, loop: Any, queryset: Any, fix_text: str, after: int) -> Any:
    """Run ``loop`` on ``queryset`` as written, then with the fix applied; return the fix."""
    before = run(name, lambda: loop(queryset))
    [finding] = n_plus_one(traces, name)
    assert fix_text in finding.fix, finding.fix
    fix = finding.evidence["orm_fix"]
    fixed = apply_django(queryset, fix)
    assert run(name + " fixed", lambda: loop(fixed)) == before  # same answer...
    assert queries(traces, name + " fixed") == after  # ...in the promised number of queries
    return finding


def test_forward_fk(traces: Path) -> None:
    from tests.orm.django_models.models import Post

    def loop(posts: Any) -> list[str]:
        return [post.category.name for post in posts]

    finding = check(
        traces, "fk", loop, Post.objects.order_by("id"), '.select_related("category")', 1
    )
    assert finding.title == f"N+1 queries: {ROWS} queries load category one row at a time"


def test_nested_path_through_the_join_the_parent_already_has(traces: Path) -> None:
    from tests.orm.django_models.models import Post

    def loop(posts: Any) -> list[str]:
        return [post.owner.user.username for post in posts]

    queryset = Post.objects.select_related("owner").order_by("id")
    check(traces, "nested", loop, queryset, '.select_related("owner__user")', 1)


def test_reverse_fk_with_related_name(traces: Path) -> None:
    from tests.orm.django_models.models import Profile

    def loop(profiles: Any) -> list[list[str]]:
        return [[p.title for p in profile.posts.all()] for profile in profiles]

    check(
        traces,
        "related_name",
        loop,
        Profile.objects.order_by("id"),
        '.prefetch_related("posts")',
        2,
    )


def test_reverse_fk_default_set_accessor(traces: Path) -> None:
    from django.contrib.auth.models import User

    def loop(users: Any) -> list[list[str]]:
        return [[c.body for c in user.comment_set.all()] for user in users]

    queryset = User.objects.order_by("id")
    check(traces, "_set", loop, queryset, '.prefetch_related("comment_set")', 2)


def test_many_to_many_auto_through(traces: Path) -> None:
    from tests.orm.django_models.models import Post

    def loop(posts: Any) -> list[list[str]]:
        return [sorted(t.name for t in post.tags.all()) for post in posts]

    check(traces, "m2m", loop, Post.objects.order_by("id"), '.prefetch_related("tags")', 2)


def test_many_to_many_custom_through(traces: Path) -> None:
    from tests.orm.django_models.models import Team

    def loop(teams: Any) -> list[list[str]]:
        return [[p.bio for p in team.members.all()] for team in teams]

    check(traces, "through", loop, Team.objects.order_by("id"), '.prefetch_related("members")', 2)


def test_generic_foreign_key(traces: Path) -> None:
    from django.contrib.contenttypes.models import ContentType

    from tests.orm.django_models.models import Attachment, Post

    ContentType.objects.get_for_model(Post)  # cached, as in a warm process

    def loop(attachments: Any) -> list[str]:
        return [a.content_object.title for a in attachments]

    queryset = Attachment.objects.order_by("id")
    finding = check(traces, "gfk", loop, queryset, '.prefetch_related("content_object")', 2)
    assert "select_related" not in finding.fix


def test_generic_relation(traces: Path) -> None:
    from tests.orm.django_models.models import Post

    def loop(posts: Any) -> list[list[str]]:
        return [[a.filename for a in post.attachments.all()] for post in posts]

    check(
        traces, "generic", loop, Post.objects.order_by("id"), '.prefetch_related("attachments")', 2
    )


def test_multi_table_inheritance(traces: Path) -> None:
    from tests.orm.django_models.models import Place

    def loop(places: Any) -> list[bool]:
        return [place.restaurant.serves_pizza for place in places]

    check(traces, "mti", loop, Place.objects.order_by("id"), '.select_related("restaurant")', 1)


def test_deferred_field(traces: Path) -> None:
    from tests.orm.django_models.models import Post

    def loop(posts: Any) -> list[bool]:
        return [post.published for post in posts]

    queryset = Post.objects.only("title").order_by("id")
    finding = check(traces, "deferred", loop, queryset, 'add "published" to .only(...)', 1)
    assert "select_related" not in finding.fix and "prefetch_related" not in finding.fix


def test_count_per_row(traces: Path) -> None:
    from tests.orm.django_models.models import Post

    def loop(posts: Any) -> list[int]:
        return [
            post.comments_count if hasattr(post, "comments_count") else post.comments.count()
            for post in posts
        ]

    queryset = Post.objects.order_by("id")
    # related_name "comments", related_query_name "comment": Count() takes the query name
    finding = check(
        traces, "count", loop, queryset, '.annotate(comments_count=Count("comment"))', 1
    )
    # The one-line alternative the fix names: the code unchanged, .count() reads the cache.
    assert '.prefetch_related("comments") is the one-line alternative' in finding.fix
    before = run("count as is", lambda: [p.comments.count() for p in queryset])
    prefetched = queryset.prefetch_related("comments")
    assert run("count prefetched", lambda: [p.comments.count() for p in prefetched]) == before
    assert queries(traces, "count prefetched") == 2


def test_exists_per_row(traces: Path) -> None:
    from tests.orm.django_models.models import Post

    def loop(posts: Any) -> list[bool]:
        return [
            post.has_comments if hasattr(post, "has_comments") else post.comments.exists()
            for post in posts
        ]

    queryset = Post.objects.order_by("id")
    text = '.annotate(has_comments=Exists(Comment.objects.filter(post=OuterRef("pk"))))'
    finding = check(traces, "exists", loop, queryset, text, 1)
    assert 'Or .prefetch_related("comments")' in finding.fix
    before = run("exists as is", lambda: [p.comments.exists() for p in queryset])
    prefetched = queryset.prefetch_related("comments")
    assert run("exists prefetched", lambda: [p.comments.exists() for p in prefetched]) == before
    assert queries(traces, "exists prefetched") == 2


def test_get_per_row_with_no_parent_query(traces: Path) -> None:
    from tests.orm.django_models.models import Category

    ids = list(Category.objects.values_list("id", flat=True))

    def loop() -> list[str]:
        return [Category.objects.get(pk=pk).name for pk in ids]

    before = run("get", loop)
    [finding] = n_plus_one(traces, "get")
    assert "Category.objects.in_bulk(ids)" in finding.fix
    assert "select_related" not in finding.fix and "prefetch_related" not in finding.fix
    fix = finding.evidence["orm_fix"]
    assert (fix["kind"], fix["on"], fix["field"], fix["many"]) == (
        "batch",
        "blog.Category",
        "id",
        False,
    )

    def fixed() -> list[str]:
        by_id = Category.objects.in_bulk(ids)
        return [by_id[pk].name for pk in ids]

    assert run("get fixed", fixed) == before
    assert queries(traces, "get fixed") == 1


def test_two_foreign_keys_to_one_table_told_apart_by_the_call_site(traces: Path) -> None:
    review = _review_model()

    def loop(reviews: Any) -> list[str]:
        return [r.editor.username for r in reviews]

    finding = check(
        traces, "editor", loop, review.objects.order_by("id"), '.select_related("editor")', 1
    )
    assert '"author"' not in finding.fix


def test_without_a_catalog_the_fix_names_no_relation(traces: Path) -> None:
    from tests.orm.django_models.models import Post

    run("no catalog", lambda: [post.category.name for post in Post.objects.order_by("id")])
    [finding] = n_plus_one(traces, "no catalog", catalogs=False)
    named = re.findall(r'_related\("([^"]*)"\)', finding.fix)
    assert named and set(named) == {"<relation>"}, finding.fix  # a placeholder, not a guess
    assert "category" not in finding.fix.replace("blog_category", "")
    assert "blog_category" in finding.fix  # what to look for: the table its SQL names
    assert finding.evidence["orm_fix"]["kind"] == "look_for"
    assert (
        finding.title == f"N+1 queries: {ROWS} queries load rows of blog_category one row at a time"
    )


def test_reverse_one_to_one(traces: Path) -> None:
    from django.contrib.auth.models import User

    def loop(users: Any) -> list[str]:
        return [user.profile.bio for user in users]

    check(traces, "reverse o2o", loop, User.objects.order_by("id"), '.select_related("profile")', 1)


def test_three_forward_steps(traces: Path) -> None:
    from tests.orm.django_models.models import Comment

    def loop(comments: Any) -> list[str]:
        return [c.post.owner.user.username for c in comments]

    queryset = Comment.objects.select_related("post__owner").order_by("id")
    check(traces, "three steps", loop, queryset, '.select_related("post__owner__user")', 1)


def test_to_many_at_the_end_of_a_forward_path(traces: Path) -> None:
    from tests.orm.django_models.models import Comment

    def loop(comments: Any) -> list[list[str]]:
        return [sorted(t.name for t in c.post.tags.all()) for c in comments]

    queryset = Comment.objects.select_related("post").order_by("id")
    # one query for the comments (and their posts), one for every tag of those posts
    check(traces, "post__tags", loop, queryset, '.prefetch_related("post__tags")', 2)


def test_a_one_row_lookup_inside_the_loop_is_not_the_loop_s_list(traces: Path) -> None:
    """A serializer reads request.user.profile once, on the first row: that one-row
    query runs after the list and before the first repeat, but the loop walks the
    list (as on a real DRF app, where the fix started from Profile)."""
    from tests.orm.django_models.models import Post, Profile

    viewer_pk = Profile.objects.order_by("id").values_list("pk", flat=True)[0]

    def loop(posts: Any) -> list[str]:
        viewer = None
        names = []
        for post in posts:
            if viewer is None:
                viewer = Profile.objects.get(pk=viewer_pk)
            names.append(post.category.name)
        return names

    check(
        traces,
        "one-row lookup",
        loop,
        Post.objects.order_by("id"),
        '.select_related("category")',
        2,
    )


def test_membership_per_row_reads_the_ids_once(traces: Path) -> None:
    """profile.followers.filter(pk=other.pk).exists() per row (is_following): no eager
    load of the loop's rows removes it; reading the one profile's ids once does."""
    from tests.orm.django_models.models import Profile

    viewer = Profile.objects.order_by("id")[0]
    viewer.followers.set(Profile.objects.order_by("id")[1:3])

    def loop(profiles: Any) -> list[bool]:
        return [viewer.followers.filter(pk=p.pk).exists() for p in profiles]

    before = run("membership", lambda: loop(Profile.objects.order_by("id")))
    [finding] = n_plus_one(traces, "membership")
    assert "Profile.followers is asked once per row" in finding.fix, finding.fix
    assert 'set(profile.followers.values_list("pk", flat=True))' in finding.fix
    assert "prefetch_related" not in finding.fix and "select_related" not in finding.fix
    fix = finding.evidence["orm_fix"]
    assert fix["kind"] == "membership" and fix["on"] == "blog.Profile"

    def fixed(profiles: Any) -> list[bool]:
        ids = set(getattr(viewer, fix["relation"]).values_list(fix["values_list"], flat=True))
        return [p.pk in ids for p in profiles]

    assert run("membership fixed", lambda: fixed(Profile.objects.order_by("id"))) == before
    assert queries(traces, "membership fixed") == 2  # the ids, then the list


def test_first_row_per_key_by_an_order(traces: Path) -> None:
    """The latest child per row (healthchecks' Channel.latest_notification(): a filter
    on the row, .order_by("-created").first()): a dict of every child would load them
    all and keep an arbitrary one; the fix keeps the order and loads one per row."""
    from django.db.models import OuterRef, Subquery

    from tests.orm.django_models.models import Comment, Post

    def loop() -> list[int | None]:
        latest = []
        for post in Post.objects.order_by("id"):
            first = Comment.objects.filter(post=post).order_by("-created", "-id").first()
            latest.append(first.pk if first else None)
        return latest

    before = run("latest", loop)
    [finding] = n_plus_one(traces, "latest")
    assert 'the first by order_by("-created", "-id")' in finding.fix, finding.fix
    assert (
        '.annotate(first_comment_id=Subquery(Comment.objects.filter(post=OuterRef("pk"))'
        '.order_by("-created", "-id").values("pk")[:1]))' in finding.fix
    )
    fix = finding.evidence["orm_fix"]
    assert (fix["kind"], fix["on"], fix["field"], fix["order"]) == (
        "first_per_key", "blog.Comment", "post", ["-created", "-id"]
    )

    def fixed() -> list[int | None]:
        first = Subquery(
            Comment.objects.filter(**{fix["field"]: OuterRef("pk")})
            .order_by(*fix["order"]).values("pk")[:1]
        )
        rows = list(Post.objects.order_by("id").annotate(**{fix["annotation"]: first}))
        by_id = Comment.objects.in_bulk([getattr(r, fix["annotation"]) for r in rows])
        return [
            by_id[pk].pk if (pk := getattr(r, fix["annotation"])) is not None else None
            for r in rows
        ]

    assert any(before) and run("latest fixed", fixed) == before
    assert queries(traces, "latest fixed") == 2

"""Strawberry's Django view and graphene-django on one Django site, driven by Django's
test client under ``perfdoctor run``."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tests.conftest import report_json, run_perfdoctor
from tests.gql.support import HERE, app_env, at, endpoint_names, line_of, n_plus_ones

SITE = HERE / "django_site"
STRAWBERRY = SITE / "blog" / "strawberry_schema.py"
GRAPHENE = SITE / "blog" / "graphene_schema.py"
POSTS = 12  # drive.py: twelve posts, six authors, a comment each


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("django_graphql")
    traces = tmp / "traces.db"
    result = run_perfdoctor(
        "run", "--traces", str(traces), "--", sys.executable, "drive.py",
        cwd=SITE, env=app_env(tmp / "blog.db"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return report_json(traces, cwd=SITE)


def test_operations_of_one_url_are_traces_of_their_own(report: dict[str, Any]) -> None:
    assert {
        "POST /strawberry/graphql query StrawberryPosts",
        "POST /strawberry/graphql query StrawberryPostsFixed",
        "POST /graphene/graphql query PostList",
        "POST /graphene/graphql query PostListFixed",
        # A batch is named by its first operation, with how many more it ran.
        "POST /graphene/batch query PostListFixed (+1 batched)",
    } <= endpoint_names(report)


def test_strawberry_points_at_the_field_resolver_and_names_select_related(
    report: dict[str, Any],
) -> None:
    [finding] = n_plus_ones(report, "POST /strawberry/graphql query StrawberryPosts")
    line = line_of(STRAWBERRY, "# n+1: PostType.author")
    assert at(SITE, finding) == (STRAWBERRY, line, "PostType.author")
    assert finding["evidence"]["count"] == POSTS
    assert finding["evidence"]["trigger"]["type"] == "PostType"
    root = line_of(STRAWBERRY, 'return list(Post.objects.order_by("id"))')
    fix = finding["fix"]
    assert '.select_related("author")' in fix
    assert f"the root resolver Query.posts (strawberry_schema.py:{root})" in fix
    assert "strawberry.dataloader.DataLoader" in fix and "loader.load(root.author_id)" in fix
    assert finding["evidence"]["orm_fix"]["calls"] == [
        {"method": "select_related", "args": ["author"], "kwargs": {}}
    ]


def test_graphene_default_resolver_points_at_the_root_resolver(report: dict[str, Any]) -> None:
    found = {f["evidence"]["trigger"]["field"]: f for f in n_plus_ones(report, "POST /graphene/graphql query PostList")}
    assert set(found) == {"author", "commentCount"}
    author = found["author"]
    # graphene-django reads post.author itself: no line of the user's runs per row,
    # so the place to change is the resolver that returned the posts.
    root = line_of(GRAPHENE, "# root resolver: posts")
    assert at(SITE, author) == (GRAPHENE, root, "Query.resolve_posts")
    assert author["evidence"]["loaded_by"] == "GraphQL field PostNode.author (default resolver)"
    assert "resolver" not in author["evidence"]["trigger"]
    fix = author["fix"]
    assert '.select_related("author")' in fix
    assert f"the root resolver Query.posts (graphene_schema.py:{root})" in fix
    assert "aiodataloader.DataLoader" in fix and "sync GraphQLView" in fix


def test_graphene_explicit_resolver_is_the_location_of_its_count(report: dict[str, Any]) -> None:
    count = {f["evidence"]["trigger"]["field"]: f for f in n_plus_ones(report, "POST /graphene/graphql query PostList")}["commentCount"]
    line = line_of(GRAPHENE, "# n+1: comment_count")
    assert at(SITE, count) == (GRAPHENE, line, "PostNode.resolve_comment_count")
    assert count["evidence"]["count"] == POSTS
    fix = count["fix"]
    assert 'Count("comments")' in fix and "the root resolver Query.posts" in fix
    assert "Comment.objects.filter(post_id__in=keys)" in fix


def test_the_fixed_twins_are_silent(report: dict[str, Any]) -> None:
    for name in (
        "POST /strawberry/graphql query StrawberryPostsFixed",
        "POST /graphene/graphql query PostListFixed",
        "POST /graphene/batch query PostListFixed (+1 batched)",
    ):
        assert not n_plus_ones(report, name), name
    assert not [f for f in report["findings"] if f["id"] == "duplicate-query"]

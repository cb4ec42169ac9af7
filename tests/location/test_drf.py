"""DRF serializers and Django templates run the loop: the finding points at the view's
queryset and names the serializer field or template line that loads each row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from perfdoctor import store
from tests.location.support import HERE, at, line_after, line_of, run_site

SITE = HERE / "drf_site"
VIEWS = SITE / "press" / "views.py"
SERIALIZERS = SITE / "press" / "serializers.py"
TEMPLATES = SITE / "press" / "templates" / "press"
TEMPLATE = TEMPLATES / "posts.html"
SLOW = [
    "/posts/",
    "/author-names/",
    "/comment-counts/",
    "/with-comments/",
    "/page/",
    "/list-page/",
    "/library-page/",
    "/front/",
]
FIXED = [
    "/fixed/posts/",
    "/author-names/fixed/",
    "/comment-counts/fixed/",
    "/with-comments/fixed/",
    "/page/fixed/",
    "/list-page/fixed/",
    "/front/fixed/",
]


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("drf") / "traces.db"


@pytest.fixture(scope="module")
def report(traces: Path) -> dict[str, Any]:
    return run_site(SITE, traces, SLOW + FIXED)


def _n_plus_one(report: dict[str, Any], path: str) -> dict[str, Any]:
    # DRF router routes are regexes (GET /^posts/$) until routes are named as written.
    names = {f"GET {path}", f"GET /^{path.strip('/')}/$"}
    matches = [
        f for f in report["findings"] if f["id"] == "n-plus-one-query" and f["endpoint"] in names
    ]
    assert len(matches) == 1, [(f["id"], f["endpoint"]) for f in report["findings"]]
    return matches[0]


def test_a_viewset_with_a_nested_serializer_points_at_its_queryset(report: dict[str, Any]) -> None:
    finding = _n_plus_one(report, "/posts/")
    assert at(SITE, finding) == (VIEWS, line_after(VIEWS, "class PostViewSet", "queryset ="))
    assert finding["location"]["function"] == "PostViewSet.queryset"
    trigger = finding["evidence"]["trigger"]
    assert (trigger["kind"], trigger["class"], trigger["field"]) == (
        "drf-serializer", "PostSerializer", "author"
    )
    # Names and places only: nothing the rows or the request held.
    assert set(trigger) <= {"kind", "class", "field", "source", "path"}
    line = line_of(SERIALIZERS, "author = AuthorSerializer()")
    assert finding["evidence"]["loaded_by"] == f"PostSerializer.author (serializers.py:{line})"


def test_a_dotted_source_names_the_field_and_its_source(report: dict[str, Any]) -> None:
    finding = _n_plus_one(report, "/author-names/")
    assert at(SITE, finding) == (VIEWS, line_after(VIEWS, "class PostAuthorNames", "queryset ="))
    line = line_of(SERIALIZERS, 'author_name = serializers.CharField(source="author.name")')
    assert finding["evidence"]["loaded_by"] == (
        f'PostAuthorNameSerializer.author_name (source="author.name", serializers.py:{line})'
    )


def test_a_method_field_points_at_get_queryset_not_inside_the_method(
    report: dict[str, Any],
) -> None:
    finding = _n_plus_one(report, "/comment-counts/")
    assert at(SITE, finding) == (
        VIEWS, line_after(VIEWS, "class PostCommentCounts", "def get_queryset")
    )
    assert finding["location"]["function"] == "PostCommentCounts.get_queryset"
    line = line_of(SERIALIZERS, "comment_count = serializers.SerializerMethodField()")
    assert finding["evidence"]["loaded_by"] == (
        f"PostCommentsSerializer.comment_count (serializers.py:{line})"
    )
    assert finding["evidence"]["loop"] is None


def test_a_nested_many_serializer_names_the_reverse_relation_field(
    report: dict[str, Any],
) -> None:
    finding = _n_plus_one(report, "/with-comments/")
    assert at(SITE, finding) == (VIEWS, line_after(VIEWS, "class PostsWithComments", "queryset ="))
    line = line_of(SERIALIZERS, "comments = CommentSerializer(many=True)")
    assert finding["evidence"]["loaded_by"] == (
        f"PostWithCommentsSerializer.comments (serializers.py:{line})"
    )


def test_a_django_template_loop_points_at_the_queryset_the_view_rendered(
    report: dict[str, Any],
) -> None:
    finding = _n_plus_one(report, "/page/")
    assert at(SITE, finding) == (VIEWS, line_after(VIEWS, "def post_page", "posts = "))
    trigger = finding["evidence"]["trigger"]
    assert trigger["template"] == "press/posts.html"
    line = line_of(TEMPLATE, "{{ post.author.name }}")
    assert trigger["line"] == line
    assert finding["evidence"]["loaded_by"] == (
        f"template press/posts.html line {line} ({{{{ post.author.name }}}})"
    )


def test_a_list_view_template_points_at_the_class_queryset(report: dict[str, Any]) -> None:
    finding = _n_plus_one(report, "/list-page/")
    assert at(SITE, finding) == (VIEWS, line_after(VIEWS, "class PostListPage", "queryset ="))
    assert finding["evidence"]["trigger"]["template"] == "press/posts.html"


def test_a_template_a_library_view_rendered_is_the_place(report: dict[str, Any]) -> None:
    # Wagtail's serve() renders every page: its N+1s pointed into site-packages.
    finding = _n_plus_one(report, "/library-page/")
    assert at(SITE, finding) == (TEMPLATE.resolve(), line_of(TEMPLATE, "{{ post.author.name }}"))
    assert finding["location"]["function"] == "template"


def test_each_included_template_line_is_its_own_loop(report: dict[str, Any]) -> None:
    # A Wagtail home page: the hero's image, then cards of three lists, each in its
    # own included template; all of them loads of one table from one render call.
    # They were one "N+1" at the hero's line, with every card's load counted in.
    found = {
        f["evidence"]["loaded_by"]: f
        for f in report["findings"]
        if f["id"] == "n-plus-one-query" and f["endpoint"] == "GET /front/"
    }
    card = line_of(TEMPLATES / "card.html", "{{ post.author.name }}")
    row = line_of(TEMPLATES / "row.html", "{{ post.author.name }}")
    assert sorted(found) == [
        f"template press/card.html line {card} ({{{{ post.author.name }}}})",
        f"template press/row.html line {row} ({{{{ post.author.name }}}})",
    ]
    for finding in found.values():
        assert finding["title"] == "N+1 queries: 6 queries load author one row at a time"
        assert finding["evidence"]["count"] == 6
        assert '.select_related("author")' in finding["fix"]
    assert len({f["fingerprint"] for f in found.values()}) == 2


def test_select_and_prefetch_related_leave_no_finding(report: dict[str, Any]) -> None:
    # Query findings only: a loaded machine may make any request slow (slow-endpoint).
    fixed = [
        f for f in report["findings"]
        if "fixed" in f["endpoint"] and f["id"] in ("n-plus-one-query", "duplicate-query")
    ]
    assert fixed == []
    # ...and every fixed endpoint was captured.
    names = {e["name"] for e in report["endpoints"]}
    assert sum("fixed" in name for name in names) == len(FIXED), names



def test_a_viewset_handler_is_the_users_class_not_drfs_list(
    report: dict[str, Any], traces: Path
) -> None:
    handlers = {t.name: t.attrs.get("handler") for t in store.load_traces(traces)}
    [name] = [n for n in handlers if "posts" in n and "fixed" not in n]
    handler = handlers[name]
    assert handler is not None
    assert (Path(handler["path"]), handler["line"]) == (VIEWS, line_of(VIEWS, "class PostViewSet"))
    assert handler["class"] == "PostViewSet"

"""A loop that reads several relations one row at a time: each N+1 finding keeps
its own fix and also gets the eager load naming them all, which pasted as printed
leaves no N+1 (Wagtail's bakery demo: a card reading a page's image, origin and
bread type, 48 -> 16 queries a request with the printed call pasted)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.location.support import HERE, found, line_of, run_site

SITE = HERE / "drf_site"
TEMPLATE = SITE / "press" / "templates" / "press" / "details.html"
TOGETHER = '.select_related("author").prefetch_related("comments")'


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    traces = tmp_path_factory.mktemp("together") / "traces.db"
    paths = ["/details/", "/details/fixed/", "/page/", "/front/"]
    return run_site(SITE, traces, [*paths, *["/cached/"] * 24])


def test_each_relation_of_the_loop_gets_the_fix_for_all_of_them(report: dict[str, Any]) -> None:
    findings = found(report, "n-plus-one-query", "GET /details/")
    # Both point at the view's render call; the template line that loads is the trigger's.
    lines = {f["evidence"]["trigger"]["line"]: f for f in findings}
    author = line_of(TEMPLATE, "post.author.name")
    comments = line_of(TEMPLATE, "post.comments.all")
    assert sorted(lines) == sorted([author, comments])
    # Each keeps its own fix, and names the other one with the call for both.
    assert lines[author]["fix"].startswith('Add .select_related("author")')
    assert lines[comments]["fix"].startswith('Add .prefetch_related("comments")')
    assert f"also reads Post.comments at press/details.html:{comments} " in lines[author]["fix"]
    assert f"also reads Post.author at press/details.html:{author} " in lines[comments]["fix"]
    for finding in findings:
        assert f"all together, {TOGETHER}." in finding["fix"]
        together = finding["evidence"]["orm_fix_together"]
        assert together["on"] == "press.Post"
        assert [(c["method"], c["args"]) for c in together["calls"]] == [
            ("select_related", ["author"]),
            ("prefetch_related", ["comments"]),
        ]


def test_a_relation_read_row_by_row_only_until_a_cache_holds_it_is_not_in_the_others_fix(
    report: dict[str, Any],
) -> None:
    """The author is read a row at a time in each of the 24 requests, the comments
    only in the first (a template cache answers the others): prefetching them with
    the author would add a query to every request to spare the first one's."""
    findings = {f["evidence"]["relation"]: f for f in found(report, "n-plus-one-query", "GET /cached/")}
    author, comments = findings["Post.author"], findings["Post.comments"]
    assert author["evidence"]["requests_affected"] == 24
    assert comments["evidence"]["requests_affected"] == 1
    for finding in (author, comments):
        assert "orm_fix_together" not in finding["evidence"]
        assert "all together" not in finding["fix"]
    assert author["fix"].startswith('Add .select_related("author")')
    # 12 posts: 12 queries a request, an error where it happens in every request;
    # a step less, and saying why, where it happened in 1 of 24.
    assert author["severity"] == "error" and "seldom" not in author["evidence"]
    assert comments["severity"] == "warning"
    assert comments["evidence"]["seldom"].startswith(
        "in 1 of the endpoint's 24 requests: the others ran without it"
    )


def test_the_fix_for_all_of_them_pasted_leaves_no_n_plus_one(report: dict[str, Any]) -> None:
    assert found(report, "n-plus-one-query", "GET /details/fixed/") == []


def test_a_loop_reading_one_relation_or_two_loops_get_no_combined_fix(
    report: dict[str, Any],
) -> None:
    # /page/: one relation read. /front/: the same relation read by two loops over
    # two querysets (latest, oldest), each with its own fix.
    for endpoint in ("GET /page/", "GET /front/"):
        findings = found(report, "n-plus-one-query", endpoint)
        assert findings, endpoint
        for finding in findings:
            assert "orm_fix_together" not in finding["evidence"], endpoint
            assert "all together" not in finding["fix"], endpoint


FLASK = HERE / "flask_site"
FLASK_TEMPLATE = FLASK / "templates" / "details.html"
SA_TOGETHER = (
    ".options(joinedload(Post.author), selectinload(Post.comments))"
    " (from sqlalchemy.orm import joinedload, selectinload)"
)


@pytest.fixture(scope="module")
def flask_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    traces = tmp_path_factory.mktemp("together-sa") / "traces.db"
    return run_site(FLASK, traces, ["/details", "/details/fixed", "/page"])


def test_sqlalchemy_loader_options_for_all_of_them(flask_report: dict[str, Any]) -> None:
    findings = found(flask_report, "n-plus-one-query", "GET /details")
    lines = {f["evidence"]["trigger"]["line"]: f for f in findings}
    author = line_of(FLASK_TEMPLATE, "post.author.name")
    comments = line_of(FLASK_TEMPLATE, "post.comments")
    assert sorted(lines) == sorted([author, comments])
    assert "joinedload(Post.author)" in lines[author]["fix"]
    assert "selectinload(Post.comments)" in lines[comments]["fix"]
    for finding in findings:
        assert f"all together, {SA_TOGETHER}." in finding["fix"]
        assert finding["evidence"]["orm_fix_together"]["options"] == [
            "joinedload(Post.author)",
            "selectinload(Post.comments)",
        ]
    # Pasted as printed: no N+1 left; a loop reading one relation gets no combined fix.
    assert found(flask_report, "n-plus-one-query", "GET /details/fixed") == []
    page = found(flask_report, "n-plus-one-query", "GET /page")
    assert page and all("all together" not in f["fix"] for f in page)

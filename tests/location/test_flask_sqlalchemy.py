"""marshmallow and Jinja2 run the loop over SQLAlchemy rows: the finding points at the
``select()`` the view handed them and names the schema field or template line; a
duplicate query points at its redundant copy and lists every site."""

from __future__ import annotations

from typing import Any

import pytest

from tests.location.support import HERE, at, found, line_after, line_of, run_site

SITE = HERE / "flask_site"
APP = SITE / "app.py"
TEMPLATE = SITE / "templates" / "posts.html"
SLOW = ["/posts", "/page", "/headline"]
FIXED = ["/posts/fixed", "/page/fixed", "/headline/fixed"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_site(SITE, tmp_path_factory.mktemp("flask") / "traces.db", SLOW + FIXED)


def test_a_schema_dump_points_at_the_select_it_was_given(report: dict[str, Any]) -> None:
    [finding] = found(report, "n-plus-one-query", "GET /posts")
    assert at(SITE, finding) == (APP, line_after(APP, "def posts()", "stmt = select(Post)"))
    assert finding["location"]["function"] == "posts"
    trigger = finding["evidence"]["trigger"]
    assert (trigger["kind"], trigger["class"], trigger["field"]) == (
        "marshmallow-schema", "PostSchema", "author"
    )
    line = line_of(APP, "author = fields.Nested(AuthorSchema)")
    assert finding["evidence"]["loaded_by"] == f"PostSchema.author (app.py:{line})"


def test_a_jinja2_loop_names_the_template_line(report: dict[str, Any]) -> None:
    [finding] = found(report, "n-plus-one-query", "GET /page")
    # rows = session.scalars(select(Post)...): the query the template's loop walks.
    assert at(SITE, finding) == (APP, line_after(APP, "def page()", "rows = "))
    trigger = finding["evidence"]["trigger"]
    line = line_of(TEMPLATE, "{{ post.author.name }}")
    assert (trigger["kind"], trigger["template"], trigger["line"]) == (
        "jinja2-template", "posts.html", line
    )
    assert finding["evidence"]["loaded_by"] == f"template posts.html line {line}"


def test_eager_loading_leaves_no_finding(report: dict[str, Any]) -> None:
    # Query findings only: a loaded machine may make any request slow (slow-endpoint).
    assert [
        f for f in report["findings"]
        if f["endpoint"].endswith("/fixed") and f["id"] in ("n-plus-one-query", "duplicate-query")
    ] == []
    names = {e["name"] for e in report["endpoints"]}
    assert {f"GET {path}" for path in FIXED} <= names


def test_a_duplicate_points_at_the_redundant_copy_and_lists_every_site(
    report: dict[str, Any],
) -> None:
    [finding] = found(report, "duplicate-query", "GET /headline")
    first = line_after(APP, "def headline()", "title = author_name(")
    # The first run has to happen: the second is the copy to remove.
    assert at(SITE, finding) == (APP, first + 1)
    assert finding["location"]["function"] == "headline"
    sites = [(s["line"], s["count"]) for s in finding["evidence"]["sites"]]
    assert sites == [(first, 1), (first + 1, 1), (first + 2, 2)]
    assert finding["evidence"]["count"] == 4

"""Strawberry on FastAPI and SQLAlchemy, served in-process over ASGI under ``perfdoctor run``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import report_json, run_perfdoctor
from tests.gql.support import HERE, app_env, at, endpoint_names, line_of, n_plus_ones

SITE = HERE / "strawberry_fastapi"
APP = SITE / "app.py"
POSTS, AUTHORS = 12, 6  # app.seed(): one author per two posts


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("strawberry")
    traces = tmp / "traces.db"
    result = run_perfdoctor(
        "run", "--traces", str(traces), "--", sys.executable, "drive.py",
        cwd=SITE, env=app_env(tmp / "blog.db"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return report_json(traces, cwd=SITE)


def test_each_operation_is_a_trace_named_by_it(report: dict[str, Any]) -> None:
    names = endpoint_names(report)
    assert {"POST /graphql query PostList", "POST /fixed/graphql query PostList"} <= names
    # An anonymous operation: its hash, never the document.
    anonymous = [n for n in names if n.startswith("POST /graphql query ") and "PostList" not in n]
    assert len(anonymous) == 1, names
    assert len(anonymous[0].rsplit(" ", 1)[1]) == 8


def test_the_n_plus_one_points_at_the_field_resolver(report: dict[str, Any]) -> None:
    [finding] = n_plus_ones(report, "POST /graphql query PostList")
    assert at(SITE, finding) == (APP, line_of(APP, "# n+1: Post.author"), "Post.author")
    evidence = finding["evidence"]
    # Six authors for twelve posts: the identity map answers the other six.
    assert evidence["count"] == AUTHORS
    assert "gql_author" in evidence["statement"] and "gql_post" in evidence["parent_statement"]
    trigger = evidence["trigger"]
    assert (trigger["kind"], trigger["type"], trigger["field"]) == ("graphql-field", "Post", "author")
    assert trigger["resolver"]["function"] == "Post.author"
    assert trigger["feeder"]["function"] == "Query.posts"
    # The resolver as declared: its decorator line.
    assert evidence["loaded_by"] == f"GraphQL field Post.author (app.py:{line_of(APP, '    def author(self, info: strawberry.Info) -> Author:') - 1})"
    # Names and places only: nothing the rows, the variables or the document held.
    assert "query PostList" not in str(trigger) and "post 0" not in str(evidence)


def test_the_fix_names_the_root_resolver_the_relation_and_a_dataloader(report: dict[str, Any]) -> None:
    [finding] = n_plus_ones(report, "POST /graphql query PostList")
    root_line = line_of(APP, "return session.scalars(select(PostRow).order_by(PostRow.id)).all()  # type: ignore[return-value]  # root")
    fix = finding["fix"]
    assert ".options(joinedload(PostRow.author))" in fix
    assert f"the root resolver Query.posts (app.py:{root_line})" in fix
    assert "strawberry.dataloader.DataLoader" in fix and "root.author_id" in fix
    machine = finding["evidence"]["orm_fix"]
    assert machine["options"] == ["joinedload(PostRow.author)"]
    assert machine["graphql"]["root_resolver"]["line"] == root_line
    assert finding["evidence"]["relation"] == "PostRow.author"


def test_the_dataloader_twin_is_silent(report: dict[str, Any]) -> None:
    assert not n_plus_ones(report, "POST /fixed/graphql query PostList")
    fixed = next(e for e in report["endpoints"] if e["name"] == "POST /fixed/graphql query PostList")
    assert fixed["queries_per_request"] == 2  # the posts, then every author at once


def test_the_path_is_kept_relative_to_the_site(report: dict[str, Any]) -> None:
    [finding] = n_plus_ones(report, "POST /graphql query PostList")
    assert not Path(finding["location"]["path"]).is_absolute()

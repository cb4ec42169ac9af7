"""assert_max_queries, assert_no_n_plus_one and @pytest.mark.perf_budget: pass and fail."""

from __future__ import annotations

from _pytest.pytester import Pytester, RunResult

from tests.pytest_plugin.samples import DJANGO_FILES, FASTAPI_FILES, SQLALCHEMY_FILES, write

DJANGO_TESTS = """import time

import pytest

from blog.models import Article, Author


@pytest.fixture
def articles(db):
    for i in range(12):
        Article.objects.create(title=f"t{i}", author=Author.objects.create(name=f"a{i}"))


def test_max_queries_passes(client, articles, assert_max_queries):
    with assert_max_queries(1) as log:
        client.get("/articles-fixed/")
    assert log.count == 1


def test_max_queries_fails(client, articles, assert_max_queries):
    with assert_max_queries(3):
        client.get("/articles/")


def test_no_n_plus_one_passes(client, articles, assert_no_n_plus_one):
    with assert_no_n_plus_one():
        client.get("/articles-fixed/")


def test_no_n_plus_one_fails(client, articles, assert_no_n_plus_one):
    with assert_no_n_plus_one():
        client.get("/articles/")


@pytest.mark.perf_budget(max_queries=1, max_ms=60_000)
def test_budget_passes(client, articles):
    client.get("/articles-fixed/")


@pytest.mark.perf_budget(max_queries=5)
def test_budget_queries_broken(client, articles):
    client.get("/articles/")


@pytest.mark.perf_budget(max_ms=50)
def test_budget_time_broken(db):
    time.sleep(0.3)
"""


def run(pytester: Pytester, *args: str) -> RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)


def test_fixtures_and_marker_under_pytest_django(pytester: Pytester) -> None:
    files = {k: v for k, v in DJANGO_FILES.items() if k != "test_blog.py"}
    files["test_checks.py"] = DJANGO_TESTS
    write(pytester, files)
    # No --perfdoctor: the fixtures and the marker switch capture on by themselves.
    result = run(pytester, "-rf")
    outcomes = result.parseoutcomes()
    assert (outcomes.get("passed"), outcomes.get("failed")) == (3, 4)
    result.stdout.fnmatch_lines(
        [
            "*_ test_max_queries_fails _*",
            "13 queries ran, at most 3 expected:",
            '  1. SELECT "blog_article"."id"*FROM "blog_article"  (blog/views.py:7)',
            '  2. SELECT "blog_author"."id"*WHERE "blog_author"."id" = ? LIMIT ?  (blog/views.py:7)',
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*_ test_no_n_plus_one_fails _*",
            "n-plus-one-query: N+1 queries: 12 queries load author one row at a time",
            "  at blog/views.py:7",
            '  fix: Add .select_related("author") to the queryset the loop iterates*',
        ]
    )
    result.stdout.fnmatch_lines(
        ["*_ test_budget_queries_broken _*", "perf_budget broken: 13 queries, budget 5:"]
    )
    result.stdout.fnmatch_lines(
        ["*_ test_budget_time_broken _*", "perf_budget broken: * ms, budget 50 ms"]
    )
    for passing in ("test_max_queries_passes", "test_no_n_plus_one_passes", "test_budget_passes"):
        assert f"FAILED test_checks.py::{passing}" not in result.stdout.str()
    # The findings summary is --perfdoctor's, not the fixtures'.
    assert "= perfdoctor =" not in result.stdout.str()


def test_fixtures_with_fastapi_and_plain_sqlalchemy(pytester: Pytester) -> None:
    write(pytester, {**FASTAPI_FILES, **SQLALCHEMY_FILES})
    pytester.makepyfile(
        test_checks="""
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import app
from models import Article, make_engine


def test_api_n_plus_one(assert_no_n_plus_one):
    with assert_no_n_plus_one():
        TestClient(app).get("/articles")


def test_api_fixed(assert_no_n_plus_one, assert_max_queries):
    with assert_no_n_plus_one(), assert_max_queries(1):
        TestClient(app).get("/articles-fixed")


def test_orm_outside_the_block_is_not_counted(assert_max_queries):
    with Session(make_engine()) as s:
        names = [a.author.name for a in s.scalars(select(Article))]
        with assert_max_queries(1) as log:
            s.scalars(select(Article)).all()
    assert len(names) == 12 and log.count == 1
"""
    )
    result = run(pytester, "test_checks.py")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_api_n_plus_one _*",
            "n-plus-one-query: N+1 queries: 12 queries load author one row at a time",
            "  at app.py:14",
            "  fix: Add .options(joinedload(Article.author))*",
        ]
    )

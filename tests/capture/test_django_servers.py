"""Django under ``perfdoctor run``: real servers, real databases, no change to the site's code.

Each test starts the test site (``tests/apps/django_site``) the way a user would —
``runserver``, ``gunicorn`` or ``uvicorn`` after ``perfdoctor run --`` — drives it
over HTTP, then checks what reached the trace store and what ``perfdoctor report``
makes of it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from perfdoctor import store
from perfdoctor.model import Trace
from tests.capture.conftest import PAGE_SIZE, SITE, DjangoSite, in_views, views_line
from tests.conftest import findings, report_json

LIST = "GET /articles/"
FIXED = "GET /articles/fixed/"
DETAIL = "GET /articles/{pk}/"
BY_SLUG = "GET /articles/by-slug/{slug}/"
DASHBOARD = "GET /authors/{pk}/dashboard/"
DASHBOARD_FIXED = "GET /authors/{pk}/dashboard/fixed/"
HEALTH = "GET /health/"


def drive_all(site: DjangoSite, base: str) -> dict[str, int]:
    """Request every view; returns how many requests each trace name should have."""
    site.drive(base, ["/articles/", "/articles/", "/articles/fixed/", "/articles/fixed/"])
    site.drive(base, ["/articles/3/", "/articles/7/", f"/articles/by-slug/{site.secret_slug}/"])
    site.drive(base, ["/authors/2/dashboard/", "/authors/2/dashboard/fixed/"])
    return {LIST: 2, FIXED: 2, DETAIL: 2, BY_SLUG: 1, DASHBOARD: 1, DASHBOARD_FIXED: 1}


def request_traces(traces: list[Trace]) -> list[Trace]:
    return [t for t in traces if t.kind == "http"]


def assert_traces_named_by_route(traces: list[Trace], site: DjangoSite) -> None:
    names = {t.name for t in request_traces(traces)}
    assert names == {LIST, FIXED, DETAIL, BY_SLUG, DASHBOARD, DASHBOARD_FIXED, HEALTH}
    for name in names:
        assert not re.search(r"/\d+(/|$)", name), name
        assert site.secret_slug not in name


def assert_db_spans_point_at_the_views(traces: list[Trace], system: str) -> None:
    """Every query of a request: Django issued it, from a line of views.py, literals out."""
    spans = [s for t in request_traces(traces) if t.name != HEALTH for s in t.db_spans()]
    assert spans
    for span in spans:
        assert span.system == system
        assert span.framework == "django", (span.statement, span.framework)
        assert span.location is not None and in_views(span.location.path), span.location
        assert span.statement and "%s" not in span.statement
        # Django's own bookkeeping (with DEBUG on, SQLite renders parameters with
        # SELECT QUOTE(?) after each query) is not the application's work.
        assert "QUOTE(" not in span.statement.upper()
    article_lookups = [s for s in spans if s.location and s.location.function == "article_by_slug"]
    assert any(re.search(r"slug\W* = \?", s.statement or "") for s in article_lookups)


def by_line(found: list[dict[str, Any]], line: int) -> dict[str, Any]:
    matching = [f for f in found if f["location"] and f["location"]["line"] == line]
    assert len(matching) == 1, (line, found)
    return matching[0]


def assert_n_plus_one_found_and_fixed(report: dict[str, Any]) -> None:
    found = findings(report, "n-plus-one-query", LIST)
    author = by_line(found, views_line("article_list", "article.author.name"))
    assert in_views(author["location"]["path"])
    assert author["location"]["function"] == "article_list"
    evidence = author["evidence"]
    assert evidence["count"] >= PAGE_SIZE
    assert evidence["framework"] == "django"
    assert "blog_author" in evidence["statement"] and "?" in evidence["statement"]
    assert "blog_article" in (evidence["parent_statement"] or "")
    assert evidence["loop"] is not None and in_views(evidence["loop"]["path"])
    assert evidence["loop"]["line"] == views_line("article_list", "for article in articles")
    assert "select_related" in author["fix"] and "author" in author["fix"]

    tags = by_line(found, views_line("article_list", "article.tags.all()"))
    assert tags["evidence"]["count"] >= PAGE_SIZE
    assert "blog_tag" in tags["evidence"]["statement"]
    assert "prefetch_related" in tags["fix"] and "tags" in tags["fix"]
    # The comprehension's iterable runs once per article: the loop is the outer for.
    assert tags["evidence"]["loop"]["line"] == views_line("article_list", "for article in articles")
    assert len(found) == 2, found

    assert findings(report, "n-plus-one-query", FIXED) == []
    assert findings(report, "n-plus-one-query", DETAIL) == []


def assert_duplicates_found_and_fixed(report: dict[str, Any]) -> None:
    [duplicate] = findings(report, "duplicate-query", DASHBOARD)
    assert duplicate["evidence"]["count"] == 3
    assert "blog_author" in duplicate["evidence"]["statement"]
    assert in_views(duplicate["location"]["path"])
    assert duplicate["location"]["function"] == "author_dashboard"
    assert findings(report, "duplicate-query", DASHBOARD_FIXED) == []
    assert findings(report, "duplicate-query", FIXED) == []


def assert_endpoint_counts(report: dict[str, Any], expected: dict[str, int]) -> None:
    endpoints = {e["name"]: e for e in report["endpoints"]}
    for name, count in expected.items():
        assert endpoints[name]["requests"] == count, endpoints[name]
    # The page, then an author and a tag list per article (connection set-up aside).
    assert endpoints[LIST]["queries_per_request"] >= 1 + 2 * PAGE_SIZE
    assert endpoints[FIXED]["queries_per_request"] < 10


def assert_no_parameter_values_stored(site: DjangoSite) -> None:
    raw = site.store_bytes()
    assert raw
    assert site.secret_slug.encode() not in raw


def exercise(site: DjangoSite, command: list[str], port: int, system: str) -> dict[str, Any]:
    """Serve, drive every view, check the store and the report; returns the report."""
    with site.serve(command, port) as base:
        expected = drive_all(site, base)
        site.wait_for_traces(expected)
    # Read again once the server is gone: a read while workers write may catch a
    # trace without all of its spans.
    traces = store.load_traces(site.traces)
    assert_traces_named_by_route(traces, site)
    assert_db_spans_point_at_the_views(traces, system)
    assert_no_parameter_values_stored(site)
    report = report_json(site.traces, cwd=SITE)
    assert report["version"] == 1
    assert_n_plus_one_found_and_fixed(report)
    assert_duplicates_found_and_fixed(report)
    assert_endpoint_counts(report, expected)
    return report


def bin_script(name: str) -> str:
    """A console script installed next to the interpreter running the tests."""
    path = Path(sys.executable).with_name(name)
    assert path.exists(), f"{name} is not installed next to {sys.executable}: install .[test]"
    return str(path)


def test_runserver_on_sqlite(django_sqlite: DjangoSite, port: int) -> None:
    # DEBUG is on, as in development: Django's CursorDebugWrapper is in the path.
    exercise(django_sqlite, django_sqlite.runserver(port), port, "sqlite")


@pytest.mark.postgres
def test_gunicorn_with_two_workers_on_postgres(django_postgres: DjangoSite, port: int) -> None:
    django_postgres.env["PD_DEBUG"] = "0"
    command = [
        bin_script("gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "djsite.wsgi:application",
    ]
    exercise(django_postgres, command, port, "postgresql")


@pytest.mark.mysql
def test_runserver_on_mariadb(django_mysql: DjangoSite, port: int) -> None:
    exercise(django_mysql, django_mysql.runserver(port), port, "mysql")


def test_uvicorn_asgi_on_sqlite(django_sqlite: DjangoSite, port: int) -> None:
    django_sqlite.env["PD_DEBUG"] = "0"
    command = [
        bin_script("uvicorn"), "djsite.asgi:application", "--host", "127.0.0.1",
        "--port", str(port),
    ]
    exercise(django_sqlite, command, port, "sqlite")

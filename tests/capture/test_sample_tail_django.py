"""``--sample-tail summary`` on the Django test site under ``runserver``: a request the
head draw left out runs through Django's ORM and the sqlite3 driver without a span;
a drawn one is captured whole, so the N+1 is still found at its line."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.capture.conftest import PAGE_SIZE, SITE, DjangoSite, in_views, views_line
from tests.conftest import findings, free_port, report_json, serve_under_perfdoctor

REQUESTS = 16


def test_undrawn_requests_record_nothing_and_drawn_ones_find_the_n_plus_one(
    django_sqlite: DjangoSite, tmp_path: Path
) -> None:
    # Every request counts as slow, so the tail rule keeps them all: the drawn ones
    # whole, the others as summaries.
    (tmp_path / "pyproject.toml").write_text("[tool.perfdoctor]\nsample_slow_ms = 0\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, str(SITE / "manage.py"), "runserver", "--noreload", f"127.0.0.1:{port}"]
    env = {**django_sqlite.env, "PERFDOCTOR_SAMPLE_SEED": "5"}
    with serve_under_perfdoctor(
        command, django_sqlite.traces, f"{base}/health/", cwd=tmp_path, env=env,
        options=("--sample", "0.5", "--sample-tail", "summary"),
    ):
        django_sqlite.drive(base, ["/articles/"] * REQUESTS)
        traces = django_sqlite.wait_for_traces({"GET /articles/": REQUESTS})

    pages = [t for t in traces if t.name == "GET /articles/"]
    summaries = [t for t in pages if t.attrs["sample"].get("summary")]
    whole = [t for t in pages if t not in summaries]
    assert summaries and whole, [t.attrs["sample"] for t in pages]
    assert all(t.spans == [] and t.status == 200 for t in summaries)
    # The page's query, then the author and the tags of each article (and a new
    # connection's own set-up queries, in the thread runserver starts per request).
    queries = [[s.kind for s in t.spans].count("db") for t in whole]
    assert all(n >= 1 + 2 * PAGE_SIZE for n in queries), queries

    report = report_json(django_sqlite.traces, cwd=tmp_path)
    endpoints = {e["name"]: e for e in report["endpoints"]}
    # Over the requests captured, not lowered by the summaries' none.
    per_request = endpoints["GET /articles/"]["queries_per_request"]
    assert per_request == round(sum(queries) / len(queries), 2)
    assert report["sampled"]["GET /articles/"]["summary"] == len(summaries)
    lines = {
        f["location"]["line"]
        for f in findings(report, "n-plus-one-query", "GET /articles/")
        if in_views(f["location"]["path"])
    }
    assert views_line("article_list", "article.author.name") in lines

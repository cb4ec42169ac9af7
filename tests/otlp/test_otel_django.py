"""A Django site instrumented with OpenTelemetry alone, its OTLP JSON imported.

What the same setup showed on Wagtail's bakery demo (``opentelemetry-instrument
gunicorn``, sending to ``perfdoctor collect``): every page one endpoint named by
the catch-all route's regex, ``GET /^((?:[\\w\\-]+/)*)$``; the start-up's queries
each an endpoint of its own (``SELECT``, ``CREATE``, ``PRAGMA``); with DEBUG on,
Django's ``SELECT QUOTE(?)`` after every query an N+1 of 40; and each N+1's fix
the raw-SQL one, though Django's ORM wrote the queries.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import findings, report_json, run_perfdoctor

APP = Path(__file__).with_name("otel_django.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("otel-django")
    out = tmp / "spans.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PERFDOCTOR"))}
    env.pop("PYTHONPATH", None)  # not under perfdoctor run: OpenTelemetry alone
    done = subprocess.run(
        [sys.executable, str(APP), str(out), str(tmp / "site.sqlite3")],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    traces = tmp / "traces.db"
    imported = run_perfdoctor("import", "otlp", str(out), "--traces", str(traces))
    assert imported.returncode == 0, imported.stderr
    return report_json(traces)


def test_regex_routes_read_as_templates(report: dict[str, Any]) -> None:
    endpoints = {e["name"]: e["requests"] for e in report["endpoints"]}
    # The start-up's migrations and seeding head traces of their own: no endpoints.
    assert endpoints == {"GET /{arg1}": 4, "GET /authors/{pk}/dashboard/": 2}


def test_djangos_debug_quoting_is_not_the_apps_query(report: dict[str, Any]) -> None:
    assert not [f for f in report["findings"] if "QUOTE" in str(f["evidence"].get("statement"))]
    [page] = [e for e in report["endpoints"] if e["name"] == "GET /{arg1}"]
    # The page's own: the list, then an author and the tags for each of 20 articles.
    assert page["queries_per_request"] == 41


def test_an_orm_n_plus_one_gets_the_orms_fix(report: dict[str, Any]) -> None:
    found = findings(report, "n-plus-one-query", "GET /{arg1}")
    loaded = {f["evidence"]["statement"].split(" FROM ")[1].split()[0] for f in found}
    assert loaded == {'"blog_author"', '"blog_tag"'}
    for finding in found:
        assert finding["evidence"]["framework"] == "django"
        assert '.select_related("<relation>")' in finding["fix"]
        assert '.prefetch_related("<relation>")' in finding["fix"]
        assert "WHERE id IN" not in finding["fix"]
    assert findings(report, "n-plus-one-query", "GET /authors/{pk}/dashboard/") == []

"""Ariadne's own ASGI app over sqlite3, served by uvicorn under ``perfdoctor run``."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from typing import Any

import pytest

from tests.capture.apps_support import console_script
from tests.conftest import free_port, report_json, serve_under_perfdoctor
from tests.gql.support import HERE, app_env, at, endpoint_names, line_of, n_plus_ones

SITE = HERE / "ariadne_app"
APP = SITE / "app.py"
POSTS = 12


def _post(url: str, document: str) -> None:
    request = urllib.request.Request(
        url, json.dumps({"query": document}).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    assert "errors" not in body, body


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("ariadne")
    env = app_env(tmp / "blog.db")
    subprocess.run([sys.executable, "app.py"], cwd=SITE, env=env, check=True)  # seed
    traces = tmp / "traces.db"
    url = f"http://127.0.0.1:{free_port()}"
    command = [console_script("uvicorn"), "app:app", "--port", url.rsplit(":", 1)[1]]
    with serve_under_perfdoctor(command, traces, f"{url}/graphql", cwd=SITE, env=env):
        _post(f"{url}/graphql", "query PostList { posts { title author { name } } }")
        _post(f"{url}/graphql", "query PostListFixed { postsFixed { title author { name } } }")
    return report_json(traces, cwd=SITE)


def test_a_standalone_ariadne_app_is_traced_per_operation(report: dict[str, Any]) -> None:
    assert {"POST /graphql query PostList", "POST /graphql query PostListFixed"} <= (
        endpoint_names(report)
    )


def test_the_n_plus_one_points_at_the_resolver_and_asks_for_a_dataloader(
    report: dict[str, Any],
) -> None:
    [finding] = n_plus_ones(report, "POST /graphql query PostList")
    assert at(SITE, finding) == (APP, line_of(APP, "# n+1: Post.author"), "resolve_author")
    evidence = finding["evidence"]
    assert evidence["count"] == POSTS and evidence["system"] == "sqlite"
    assert evidence["trigger"]["feeder"]["function"] == "resolve_posts"
    # Plain sqlite3: no ORM to eager-load with, so the batch by key is the fix.
    fix = finding["fix"]
    assert fix.startswith("The GraphQL executor resolves Post.author once per Post: batch it")
    assert "aiodataloader.DataLoader" in fix and "WHERE id IN (...) on gql_author" in fix


def test_the_dataloader_twin_is_silent(report: dict[str, Any]) -> None:
    assert not n_plus_ones(report, "POST /graphql query PostListFixed")

"""Route templates: router prefixes kept, regex routes read as users write them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perfdoctor.capture.routes import Positional, from_django_route, from_regex
from tests.capture.apps_support import app_env, load

HERE = Path(__file__).parent


def test_blueprint_and_mount_prefixes_are_part_of_the_name(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    result = subprocess.run(
        [sys.executable, str(HERE / "prefixed_routes_app.py"), str(traces)],
        cwd=tmp_path, env=app_env(), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(t.name for t in load(traces)) == [
        "GET /api/files/{file_path}",
        "GET /api/users/{uid}",
        "GET /api/v1/admin/users/{name}",
        "GET /api/v1/posts/{post_id}",
        "GET /shop/items/{item_id}",
        "GET /sub/widgets/{widget_id}",
        "GET /v1/things/{thing_id}",
    ]


@pytest.mark.parametrize(
    ("regex", "template"),
    [
        (r"^api/posts/(?P<slug>[^/.]+)$", "api/posts/{slug}"),
        (r"^posts/(?P<pk>[^/.]+)\.(?P<format>[a-z0-9]+)/?$", "posts/{pk}.{format}"),
        (r"^articles/([0-9]{4})/([0-9]{2})/$", "articles/{arg1}/{arg2}/"),
        # An optional piece holding a parameter stays; an optional literal goes.
        (r"^blog/(?:page-(?P<page>\d+)/)?$", "blog/page-{page}/"),
        (r"^static/.*$", "static/*"),
        (r"^v1\.0/(?i:Users)/$", "v1.0/Users/"),
        (r"^(?:posts|articles)/$", "(posts|articles)/"),
        (r"^$", ""),
        # What the parser refuses stays as written, rather than failing the request.
        (r"^(unbalanced", r"^(unbalanced"),
    ],
)
def test_regex_routes(regex: str, template: str) -> None:
    assert from_regex(regex) == template


def test_unnamed_groups_take_the_views_parameter_names_then_positions() -> None:
    assert from_regex(r"^a/(\d+)/(\d+)/(\d+)/$", Positional(["year", "month"])) == (
        "a/{year}/{month}/{arg3}/"
    )


def test_joined_django_route_without_the_pattern_chain() -> None:
    assert from_django_route(r"^shop/items/<int:pk>/") == "/shop/items/{pk}/"
    assert from_django_route("api/v1/posts/(?P<slug>[^/.]+)/$") == "/api/v1/posts/{slug}/"
    assert from_django_route("articles/<slug:slug>/") == "/articles/{slug}/"

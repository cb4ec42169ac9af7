"""Django and DRF routes are named as the urlconf writes them, not as regexes.

The site (``tests/apps/django_routes``) holds path(), re_path() with named and
unnamed groups, include() nesting of both kinds, a DRF DefaultRouter with a custom
``lookup_field`` and an extra action, format_suffix_patterns on path() and
re_path(), and i18n_patterns.  It runs under ``perfdoctor run`` with runserver.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

from tests.capture.apps_support import load, wait_for_traces
from tests.conftest import APPS, free_port, get, serve_under_perfdoctor

SITE = APPS / "django_routes"

# Requested path -> the trace name it must get.
EXPECTED = {
    "/api/posts/hello-world": "GET /api/posts/{slug}",
    # Unnamed groups take the view's parameter names (def archive(request, year, month))...
    "/archive/2024/05/": "GET /archive/{year}/{month}/",
    # ...or their position, for a view taking *args.  An optional trailing "/?" goes.
    "/legacy/7": "GET /legacy/{arg1}",
    "/legacy/7/": "GET /legacy/{arg1}",
    "/files/v1.0/read-me.txt": "GET /files/v1.0/{name}.txt",
    "/shop/items/3/": "GET /shop/items/{pk}/",
    "/shop/tags/python/": "GET /shop/tags/{tag}/",
    "/v2/orders/9/": "GET /v2/orders/{id}/",
    "/api/v1/": "GET /api/v1/",
    "/api/v1/.json": "GET /api/v1/.{format}",
    "/api/v1/posts/": "GET /api/v1/posts/",
    "/api/v1/posts.json": "GET /api/v1/posts.{format}",
    "/api/v1/posts/hello/": "GET /api/v1/posts/{slug}/",
    "/api/v1/posts/hello.json": "GET /api/v1/posts/{slug}.{format}",
    "/api/v1/posts/hello/comments/": "GET /api/v1/posts/{slug}/comments/",
    "/reports/4/": "GET /reports/{pk}/",
    "/reports/4.json": "GET /reports/{pk}.{format}",
    "/stats/": "GET /stats/",
    "/stats.json": "GET /stats.{format}",
    "/en/about/": "GET /{language}/about/",
    "/fr/about/": "GET /{language}/about/",
}


def test_every_router_spelling_becomes_a_template(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFDOCTOR_")}
    env["DJANGO_SETTINGS_MODULE"] = "routesite.settings"
    command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    base = f"http://127.0.0.1:{port}"
    expected = Counter(EXPECTED.values())
    with serve_under_perfdoctor(command, traces, f"{base}/health/", cwd=SITE, env=env):
        for path in EXPECTED:
            status, body = get(base + path)
            assert status == 200, (path, status, body[:300])
        wait_for_traces(
            traces, lambda loaded: all(
                sum(t.name == n for t in loaded) >= c for n, c in expected.items()
            ),
        )
    names = Counter(t.name for t in load(traces) if t.kind == "http")
    names.pop("GET /health/", None)
    assert names == expected

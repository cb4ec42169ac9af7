"""Wagtail: one route serves every page, so each page type is an endpoint of its own.

On Wagtail's bakery demo every page was ``GET /{path}``: its home page, bread
list and blog shared percentiles and findings. A page's N+1 happens in its
template, under Wagtail's own view: the template line is its place.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from tests.conftest import findings, report_json, run_perfdoctor

SITE = Path(__file__).with_name("wagtail_site")
TEMPLATE = SITE / "bakery" / "templates" / "bakery" / "breads_index_page.html"
PATHS = ["/", "/breads/", "/breads/", "/breads/", "/breads/bread-1/"]


def _served(tmp_path: Path, fixed: bool) -> dict[str, Any]:
    traces = tmp_path / "traces.db"
    env = {**os.environ, "BAKERY_FIXED": "1" if fixed else ""}
    result = run_perfdoctor(
        "run", "--traces", str(traces), "--", sys.executable, "drive.py",
        str(tmp_path / "site.sqlite3"), *PATHS, cwd=SITE, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return report_json(traces, cwd=SITE)


def test_each_page_type_is_an_endpoint(tmp_path: Path) -> None:
    report = _served(tmp_path, fixed=False)
    pages = {e["name"]: e["requests"] for e in report["endpoints"] if "{path}" in e["name"]}
    assert pages == {
        "GET /{path} (HomePage)": 1,
        "GET /{path} (BreadsIndexPage)": 3,
        "GET /{path} (BreadPage)": 1,
    }
    [n_plus_one] = findings(report, "n-plus-one-query", "GET /{path} (BreadsIndexPage)")
    # Not wagtail/views.py in site-packages: the template line that reads each row.
    location = n_plus_one["location"]
    lines = TEMPLATE.read_text().splitlines()
    assert (SITE / location["path"]).resolve() == TEMPLATE.resolve()
    assert (
        lines[location["line"] - 1].strip().startswith("<li>{{ bread.title }} from {{ bread.origin")
    )
    assert n_plus_one["fix"].startswith('Add .select_related("origin")')


def test_the_printed_fix_leaves_no_n_plus_one(tmp_path: Path) -> None:
    report = _served(tmp_path, fixed=True)
    assert not findings(report, "n-plus-one-query", "GET /{path} (BreadsIndexPage)")

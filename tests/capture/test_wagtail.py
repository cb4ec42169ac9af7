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

import pytest

from tests.conftest import findings, report_json, run_perfdoctor

SITE = Path(__file__).with_name("wagtail_site")
TEMPLATES = SITE / "bakery" / "templates" / "bakery"
TEMPLATE = TEMPLATES / "breads_index_page.html"
PATHS = ["/", "/breads/", "/breads/", "/breads/", "/breads/bread-1/"]


def _served(tmp_path: Path, fixed: bool | str) -> dict[str, Any]:
    traces = tmp_path / "traces.db"
    env = {**os.environ, "BAKERY_FIXED": fixed if isinstance(fixed, str) else "1" if fixed else ""}
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


def test_pages_loaded_by_specific_get_the_fix_for_their_own_type(tmp_path: Path) -> None:
    # The bakery demo's home page lists an index's children through .specific():
    # the fix named nine Page.aliases... relations, none of them BreadPage.origin.
    report = _served(tmp_path, fixed=False)
    [n_plus_one] = findings(report, "n-plus-one-query", "GET /{path} (HomePage)")
    lines = (TEMPLATES / "home_page.html").read_text().splitlines()
    assert "{{ page.origin.name }}" in lines[n_plus_one["location"]["line"] - 1]
    fix = n_plus_one["fix"]
    assert "BreadPage.origin" in fix
    assert '.select_related("origin", for_specific_subqueries=True)' in fix
    assert 'BreadPage.objects.live().child_of(page).select_related("origin")' in fix
    assert "aliases" not in fix


def test_the_fix_for_specific_pages_before_wagtail_6_3_works(tmp_path: Path) -> None:
    report = _served(tmp_path, fixed=True)
    assert not findings(report, "n-plus-one-query", "GET /{path} (HomePage)")


def test_the_fix_for_specific_pages_from_wagtail_6_3_works(tmp_path: Path) -> None:
    import wagtail

    if wagtail.VERSION[:2] < (6, 3):
        pytest.skip(f"for_specific_subqueries came with Wagtail 6.3 (here {wagtail.__version__})")
    report = _served(tmp_path, fixed="subqueries")
    assert not findings(report, "n-plus-one-query", "GET /{path} (HomePage)")

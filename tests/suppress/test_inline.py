"""``# perfdoctor: ignore[...]`` on the call-site line or the loop's line."""

from __future__ import annotations

from tests.suppress.conftest import (
    ADMIN_POSTS,
    ALL_THREE,
    API_COMMENTS,
    API_POSTS,
    N1,
    Project,
    shown,
)

ACCESS = "post.author.name"  # the line that issues the query, in views.py
LOOP = "for post in"  # the loop's line


def test_on_the_call_site_line(captured: Project) -> None:
    captured.comment("views.py", ACCESS, "# perfdoctor: ignore[n-plus-one-query]")
    report = captured.report_json()
    assert shown(report) == [(N1, API_COMMENTS)]
    assert report["suppressed"]["ignored"] == 2
    assert {i["by"] for i in report["suppressed"]["ignored_findings"]} == {"inline comment"}


def test_bare_on_the_loop_line(captured: Project) -> None:
    captured.comment("legacy/report.py", LOOP, "# perfdoctor: ignore")
    assert shown(captured.report_json()) == [(N1, ADMIN_POSTS), (N1, API_POSTS)]


def test_several_ids(captured: Project) -> None:
    captured.comment("views.py", LOOP, "# perfdoctor: ignore[duplicate-query, n-plus-one-query]")
    assert shown(captured.report_json()) == [(N1, API_COMMENTS)]


def test_another_id_or_another_line_does_not_silence(captured: Project) -> None:
    captured.comment("views.py", ACCESS, "# perfdoctor: ignore[duplicate-query]")
    captured.comment("views.py", "lines = []", "# perfdoctor: ignore")
    report = captured.report_json()
    assert shown(report) == ALL_THREE
    assert report["suppressed"]["ignored"] == 0


def test_fail_on_respects_the_comment(captured: Project) -> None:
    captured.comment("views.py", ACCESS, "# perfdoctor: ignore")
    captured.comment("legacy/report.py", ACCESS.replace("author.name", "comments"), "# perfdoctor: ignore")
    assert captured.report("--fail-on", "warning").returncode == 0
    assert "3 findings ignored" in captured.report().stdout

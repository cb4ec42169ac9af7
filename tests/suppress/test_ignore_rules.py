"""[[tool.perfdoctor.ignore]]: by id, endpoint glob, path glob and relation; counted, not lost."""

from __future__ import annotations

import pytest

from tests.suppress.conftest import (
    ADMIN_POSTS,
    ALL_THREE,
    API_COMMENTS,
    API_POSTS,
    N1,
    Project,
    shown,
)


def test_without_rules_every_finding_shows(captured: Project) -> None:
    report = captured.report_json()
    assert shown(report) == ALL_THREE
    assert report["suppressed"] == {"ignored": 0, "baseline": 0, "ignored_findings": []}
    assert all(len(f["fingerprint"]) == 16 for f in report["findings"])


def test_by_id_ignores_every_finding_of_it_and_fail_on_follows(captured: Project) -> None:
    assert captured.report("--fail-on", "error").returncode == 1
    captured.pyproject('[[tool.perfdoctor.ignore]]\nid = "n-plus-one-query"\n')
    report = captured.report_json()
    assert shown(report) == []
    assert report["suppressed"]["ignored"] == 3
    assert captured.report("--fail-on", "warning").returncode == 0


def test_by_endpoint_glob(captured: Project) -> None:
    captured.pyproject(
        '[[tool.perfdoctor.ignore]]\nid = "n-plus-one-query"\nendpoint = "GET /admin/*"\n'
        'reason = "admin is internal"\n'
    )
    report = captured.report_json()
    assert shown(report) == [(N1, API_COMMENTS), (N1, API_POSTS)]
    [ignored] = report["suppressed"]["ignored_findings"]
    assert ignored["endpoint"] == ADMIN_POSTS
    assert ignored["reason"] == "admin is internal"
    assert ignored["by"] == "pyproject.toml ignore #1"
    assert ignored["location"]["path"] == "shop/views.py"


def test_by_path_glob_and_any_id(captured: Project) -> None:
    captured.pyproject('[[tool.perfdoctor.ignore]]\nid = "*"\npath = "shop/legacy/*.py"\n')
    assert shown(captured.report_json()) == [(N1, ADMIN_POSTS), (N1, API_POSTS)]


@pytest.mark.parametrize(
    ("model", "left"),
    [
        ("Post.comments", [(N1, ADMIN_POSTS), (N1, API_POSTS)]),
        ("Post.author", [(N1, API_COMMENTS)]),
        ("comments", [(N1, ADMIN_POSTS), (N1, API_POSTS)]),
        ("Post.tags", ALL_THREE),
        # Exact now that the finding names its relation from the models: another
        # model's field of the same name does not match.
        ("Comment.author", ALL_THREE),
    ],
)
def test_by_relation(captured: Project, model: str, left: list[tuple[str, str]]) -> None:
    captured.pyproject(f'[[tool.perfdoctor.ignore]]\nid = "n-plus-one-query"\nmodel = "{model}"\n')
    assert shown(captured.report_json()) == left


def test_all_keys_of_a_rule_must_match(captured: Project) -> None:
    captured.pyproject(
        '[[tool.perfdoctor.ignore]]\nid = "n-plus-one-query"\nendpoint = "GET /admin/*"\n'
        'path = "shop/legacy/*"\n'
    )
    assert shown(captured.report_json()) == ALL_THREE


def test_the_text_report_counts_them_and_verbose_says_why(captured: Project) -> None:
    captured.pyproject(
        '[[tool.perfdoctor.ignore]]\nid = "n-plus-one-query"\nendpoint = "GET /admin/*"\n'
        'reason = "admin is internal"\n'
    )
    out = captured.report().stdout
    assert "1 finding ignored by [tool.perfdoctor.ignore] / inline comments" in out
    assert "admin is internal" not in out
    verbose = captured.report("--verbose").stdout
    assert "admin is internal" in verbose
    assert "ignored: n-plus-one-query  GET /admin/posts" in verbose


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[tool.perfdoctor.ignore]]\nendpoint = "GET /x"\n', "needs an id"),
        ('[[tool.perfdoctor.ignore]]\nid = "n-plus-one"\n', "no finding has the id 'n-plus-one'"),
        ('[[tool.perfdoctor.ignore]]\nid = "*"\nendpont = "GET /x"\n', "unknown key 'endpont'"),
        ('[[tool.perfdoctor.ignore]]\nid = "*"\npath = 3\n', "path must be a non-empty string"),
        ('[tool.perfdoctor]\nignore = "n-plus-one-query"\n', "must be an array of tables"),
    ],
)
def test_a_bad_rule_is_one_line_and_exit_2(captured: Project, toml: str, message: str) -> None:
    captured.pyproject(toml)
    result = captured.report()
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("perfdoctor: error: ") and message in line, line
    assert "pyproject.toml" in line

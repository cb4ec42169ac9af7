"""`pytest --perfdoctor` honours [tool.perfdoctor.ignore] and inline comments, --fail-on too."""

from __future__ import annotations

from _pytest.pytester import Pytester, RunResult

from tests.pytest_plugin.samples import SQLALCHEMY_FILES, write


def run(pytester: Pytester, *args: str) -> RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)


def test_an_ignore_rule_silences_the_finding_and_fail_on(pytester: Pytester) -> None:
    write(pytester, SQLALCHEMY_FILES)
    pytester.makepyprojecttoml(
        '[[tool.perfdoctor.ignore]]\nid = "n-plus-one-query"\npath = "test_orm.py"\n'
    )
    result = run(pytester, "--perfdoctor", "--perfdoctor-fail-on", "error")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "0 findings" in out
    assert "1 finding ignored by [tool.perfdoctor.ignore] / inline comments" in out
    assert result.ret == 0


def test_an_inline_comment_silences_the_finding(pytester: Pytester) -> None:
    files = dict(SQLALCHEMY_FILES)
    files["test_orm.py"] = files["test_orm.py"].replace(
        "    names = [a.author.name for a in session.scalars(select(Article))]",
        "    names = [a.author.name for a in session.scalars(select(Article))]"
        "  # perfdoctor: ignore[n-plus-one-query]",
    )
    write(pytester, files)
    result = run(pytester, "--perfdoctor", "--perfdoctor-fail-on", "error")
    result.assert_outcomes(passed=2)
    assert "1 finding ignored" in result.stdout.str()
    assert result.ret == 0

"""Every rule against its fixtures: ``# expect: CODE`` marks each line that must fire;
every other line (the idiomatic fixes beside them) must not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from perfdoctor.lint import RULES, lint_paths
from perfdoctor.lint.config import LintConfig

FIXTURES = Path(__file__).parent / "fixtures"
_EXPECT = re.compile(r"#\s*expect:\s*([A-Z0-9, ]+)")


def _expected(path: Path) -> set[tuple[str, int]]:
    found = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = _EXPECT.search(line)
        if match:
            found |= {(code.strip(), number) for code in match.group(1).split(",") if code.strip()}
    return found


def _cases() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*.py") if p.name != "models.py")


@pytest.fixture(scope="module")
def results() -> dict[str, set[tuple[str, int]]]:
    # Each fixture folder is one project: its models and settings are what the rules
    # know, not those of the repository around it.
    by_file: dict[str, set[tuple[str, int]]] = {}
    for folder in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        result = lint_paths([folder], LintConfig(), context=False)
        for finding in result.findings:
            key = str(Path(finding.path).resolve())
            by_file.setdefault(key, set()).add((finding.code, finding.line))
    return by_file


@pytest.mark.parametrize("path", _cases(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_fires_exactly_on_marked_lines(
    path: Path, results: dict[str, set[tuple[str, int]]]
) -> None:
    assert results.get(str(path.resolve()), set()) == _expected(path)


def test_every_rule_has_a_firing_fixture() -> None:
    marked = {code for path in _cases() for code, _ in _expected(path)}
    assert marked == set(RULES)


def test_unparsable_file_is_reported_not_fatal() -> None:
    result = lint_paths([FIXTURES / "plain"], LintConfig())
    skipped = dict(result.skipped)
    assert any(p.endswith("unparsable.py") for p in skipped)
    assert result.files == len(list((FIXTURES / "plain").glob("*.py")))


def test_caches_timeout_none_applies_to_its_own_project_only(tmp_path: Path) -> None:
    write = "from django.core.cache import cache\n\n\ndef f(v):\n    cache.set('k', v)\n"
    forever = tmp_path / "forever"
    (forever / "site").mkdir(parents=True)
    (forever / "site" / "settings.py").write_text(
        'CACHES = {"default": {"BACKEND": "x", "TIMEOUT": None}}\n'
    )
    (forever / "site" / "views.py").write_text(write)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "views.py").write_text(write)
    result = lint_paths([tmp_path], LintConfig())
    assert [(Path(f.path).parent.name, f.code) for f in result.findings] == [("site", "PD301")]

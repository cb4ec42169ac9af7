"""The linter over a large real codebase: Django's own source plus our Django sites."""

from __future__ import annotations

from pathlib import Path

import django

from perfdoctor.lint import lint_paths
from perfdoctor.lint.config import LintConfig
from perfdoctor.lint.engine import discover

ROOT = Path(__file__).parents[2]
TREES = [
    Path(django.__file__).parent,
    ROOT / "tests/apps/django_site",
    ROOT / "tests/apps/django_cache_site",
    ROOT / "tests/database/apps/dbsite",
]


def test_django_tree_no_crash_and_every_file_accounted_for() -> None:
    files = discover(TREES)
    assert len(files) > 800
    result = lint_paths(TREES, LintConfig())
    assert result.files == len(files)
    assert len(set(result.parsed)) + len({p for p, _ in result.skipped}) == len(files)
    # Reviewed by hand (benchmarks/lint_findings_django.txt): each one is a true positive.
    found = {(Path(f.path).name, f.line, f.code) for f in result.findings}
    assert found == {
        ("views.py", 20, "PD101"),
        ("views.py", 21, "PD101"),
        ("views.py", 54, "PD301"),
        ("templates.py", 317, "PD201"),
    }

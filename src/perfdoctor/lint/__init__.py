"""``perfdoctor lint``: the seed's anti-patterns found in source code, before they run."""

from perfdoctor.lint.base import RULES, LintFinding
from perfdoctor.lint.config import LintConfig, load_config
from perfdoctor.lint.engine import LintResult, lint_paths, lint_source

__all__ = [
    "RULES",
    "LintConfig",
    "LintFinding",
    "LintResult",
    "lint_paths",
    "lint_source",
    "load_config",
]

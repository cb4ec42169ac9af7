"""Findings a user has chosen not to see, counted rather than dropped.

Three sources: ``[[tool.perfdoctor.ignore]]`` rules (:mod:`.rules`), inline
``# perfdoctor: ignore[...]`` comments (:mod:`.inline`), and a baseline report
(:mod:`.baseline`).  Ignores are applied once, in ``analyze``, so every report
format, ``--fail-on`` and the pytest plugin see the same findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from perfdoctor.model import Finding
from perfdoctor.suppress.baseline import Baseline
from perfdoctor.suppress.inline import Sources, silenced
from perfdoctor.suppress.rules import IgnoreRule

INLINE = "inline comment"


@dataclass
class Ignored:
    finding: Finding
    # The rule's place ("pyproject.toml ignore #2") or INLINE.
    by: str
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        finding = self.finding
        return {
            "id": finding.id,
            "endpoint": finding.endpoint,
            "location": finding.location.to_dict() if finding.location else None,
            "fingerprint": finding.fingerprint,
            "by": self.by,
            "reason": self.reason,
        }


@dataclass
class Suppressed:
    """What the report leaves out, and why."""

    ignored: list[Ignored] = field(default_factory=list)
    # Findings already in the --baseline report.
    baseline: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ignored": len(self.ignored),
            "baseline": self.baseline,
            "ignored_findings": [i.to_dict() for i in self.ignored],
        }

    def lines(self) -> list[str]:
        """One line per kind of suppression, for the text and markdown reports."""
        out = []
        if self.ignored:
            n = len(self.ignored)
            out.append(
                f"{n} finding{'s' if n != 1 else ''} ignored by "
                "[tool.perfdoctor.ignore] / inline comments"
            )
        if self.baseline:
            n = self.baseline
            out.append(f"{n} finding{'s' if n != 1 else ''} in the baseline not shown")
        return out


def apply_ignores(
    findings: Sequence[Finding], rules: Sequence[IgnoreRule]
) -> tuple[list[Finding], list[Ignored]]:
    """Split findings into those shown and those a rule or a comment ignores."""
    sources = Sources()
    kept: list[Finding] = []
    ignored: list[Ignored] = []
    for finding in findings:
        rule = next((r for r in rules if r.matches(finding)), None)
        if rule is not None:
            ignored.append(Ignored(finding, rule.origin, rule.reason))
        elif silenced(finding, sources):
            ignored.append(Ignored(finding, INLINE))
        else:
            kept.append(finding)
    return kept, ignored


def apply_baseline(findings: Sequence[Finding], baseline: Baseline) -> tuple[list[Finding], int]:
    """The findings not in the baseline, and how many were."""
    new = [f for f in findings if not baseline.knows(f)]
    return new, len(findings) - len(new)


__all__ = [
    "Baseline",
    "IgnoreRule",
    "Ignored",
    "Suppressed",
    "apply_baseline",
    "apply_ignores",
]

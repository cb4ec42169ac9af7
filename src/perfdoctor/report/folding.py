"""One cause on several endpoints, shown once.

A template tag that every page's base template calls (a menu, a footer) makes
the same N+1 on every page type: on the Wagtail bakery demo 22 of 54 findings
were one menu tag's two lines, once per page type. Each stays a finding of its
endpoint (JSON, baselines and budgets keep them apart); a report read by a
person shows the cause once, at its worst endpoint's rank, and names the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from perfdoctor.model import Finding


@dataclass
class Cause:
    finding: Finding  # the first of its cause in the ranking: the one shown
    others: list[Finding] = field(default_factory=list)  # the same on other endpoints

    def other_endpoints(self) -> list[str]:
        return list(dict.fromkeys(f.endpoint or "" for f in self.others))


def _key(finding: Finding) -> tuple[str, str, int, str] | None:
    location = finding.location
    if location is None:
        return None  # nothing says two such findings are one place to change
    return finding.id, location.path, location.line, finding.fix


def fold(findings: list[Finding]) -> list[Cause]:
    """``findings`` (ranked) as causes, in the rank of each cause's first finding:
    one detector, one line of code and one fix are one cause."""
    causes: list[Cause] = []
    by_key: dict[tuple[str, str, int, str], Cause] = {}
    for finding in findings:
        key = _key(finding)
        cause = by_key.get(key) if key is not None else None
        if cause is not None and finding.endpoint != cause.finding.endpoint:
            cause.others.append(finding)
            continue
        cause = Cause(finding)
        causes.append(cause)
        if key is not None and key not in by_key:
            by_key[key] = cause
    return causes


def also_on(cause: Cause, most: int = 3) -> str:
    """``also on 10 more endpoints: GET /a, GET /b, GET /c and 7 more``; "" for none."""
    names = cause.other_endpoints()
    if not names:
        return ""
    shown = ", ".join(names[:most])
    rest = f" and {len(names) - most} more" if len(names) > most else ""
    many = "s" if len(names) != 1 else ""
    return f"also on {len(names)} more endpoint{many}: {shown}{rest}"

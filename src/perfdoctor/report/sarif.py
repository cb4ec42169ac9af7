"""Runtime findings as SARIF 2.1.0: code scanning shows each on the user's call site.

A finding without a call site in the user's code (a slow endpoint, a missing
cache header) has no line to annotate: it is counted in a notification instead,
so the log says what it left out.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from perfdoctor import sarif
from perfdoctor.advisor.findings import DETECTOR_ID as INDEX_ID
from perfdoctor.analysis.analyze import Analysis
from perfdoctor.analysis.budgets import FINDING_ID as BUDGET_ID
from perfdoctor.detectors import all_detectors
from perfdoctor.model import Finding
from perfdoctor.report.evidence import evidence_numbers

_HELP = sarif.HELP_URI + "#detectors"
# Runtime ids that are not detectors of the registry.
_OTHER_RULES = {
    BUDGET_ID: "an endpoint went over a budget of [tool.perfdoctor.budgets]",
    INDEX_ID: "a query the database advisor can speed up with an index",
}


def render(analysis: Analysis, stream: TextIO) -> None:
    json.dump(to_sarif(analysis), stream, indent=2, default=str)
    stream.write("\n")


def to_sarif(analysis: Analysis) -> dict[str, Any]:
    summaries = {d.id: d.description for d in all_detectors()} | _OTHER_RULES
    for finding in analysis.findings:
        summaries.setdefault(finding.id, finding.id.replace("-", " "))
    rules = [
        sarif.rule(rule_id, rule_id, summary, "warning", _HELP)
        for rule_id, summary in sorted(summaries.items())
    ]
    located = [f for f in analysis.findings if f.location is not None]
    results = [_result(f) for f in located]
    notifications = []
    unlocated = len(analysis.findings) - len(located)
    if unlocated:
        ids = sorted({f.id for f in analysis.findings if f.location is None})
        notifications.append(
            {
                "level": "note",
                "message": {
                    "text": f"{unlocated} finding{'s' if unlocated != 1 else ''} with no call "
                    f"site in your code left out ({', '.join(ids)}): see `perfdoctor report`"
                },
            }
        )
    return sarif.log(rules, results, notifications, _HELP)


def _result(finding: Finding) -> dict[str, Any]:
    assert finding.location is not None
    numbers = evidence_numbers(finding.evidence)
    title = finding.title
    # Code scanning shows the message on the line alone: say which endpoint ran it.
    if finding.endpoint and finding.endpoint not in title:
        title = f"{finding.endpoint}: {title}"
    text = title + (f" ({', '.join(numbers)})" if numbers else "") + f". Fix: {finding.fix}"
    result: dict[str, Any] = {
        "ruleId": finding.id,
        "level": sarif.LEVELS[finding.severity],
        "message": {"text": text},
        "locations": [sarif.physical_location(finding.location.path, finding.location.line)],
        "properties": {"endpoint": finding.endpoint, "evidence": finding.evidence},
    }
    if finding.fingerprint:
        # Keeps the alert the same one across runs while the line moves.
        result["partialFingerprints"] = {"perfdoctorFinding/v1": finding.fingerprint}
    loop = finding.evidence.get("loop")
    if isinstance(loop, dict) and "path" in loop and isinstance(loop.get("line"), int):
        related = sarif.physical_location(str(loop["path"]), loop["line"])
        related["id"] = 0
        related["message"] = {"text": "the loop that repeats it"}
        result["relatedLocations"] = [related]
    return result

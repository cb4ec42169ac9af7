"""SARIF 2.1.0 logs, for code scanning: one builder for lint and runtime findings."""

from __future__ import annotations

from typing import Any

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
HELP_URI = "https://github.com/perfdoctor/perfdoctor"
# perfdoctor's severities as SARIF levels ("info" is SARIF's "note").
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def physical_location(
    path: str, line: int | None = None, column: int | None = None
) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"}}
    if line is not None and line > 0:
        region: dict[str, Any] = {"startLine": line}
        if column is not None and column > 0:
            region["startColumn"] = column
        location["region"] = region
    return {"physicalLocation": location}


def rule(rule_id: str, name: str, summary: str, level: str, help_uri: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": name,
        "shortDescription": {"text": summary},
        "helpUri": help_uri,
        "defaultConfiguration": {"level": level},
    }


def log(
    rules: list[dict[str, Any]],
    results: list[dict[str, Any]],
    notifications: list[dict[str, Any]],
    help_uri: str = HELP_URI,
) -> dict[str, Any]:
    """One run of perfdoctor; results name their rule by id and by index in ``rules``."""
    index = {r["id"]: i for i, r in enumerate(rules)}
    for result in results:
        result["ruleIndex"] = index[result["ruleId"]]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {"name": "perfdoctor", "informationUri": help_uri, "rules": rules}
                },
                "invocations": [
                    {"executionSuccessful": True, "toolExecutionNotifications": notifications}
                ],
                "results": results,
            }
        ],
    }

"""Lint output: text (one line per finding), JSON, and SARIF 2.1.0 for code scanning."""

from __future__ import annotations

import json
from typing import Any, TextIO

from perfdoctor import sarif
from perfdoctor.lint.base import RULES
from perfdoctor.lint.engine import LintResult
from perfdoctor.lint.rules.pd001_unparsable import CODE as UNPARSABLE

_HELP = sarif.HELP_URI + "#lint"


def render(result: LintResult, fmt: str, stream: TextIO) -> None:
    if fmt == "json":
        json.dump(to_json(result), stream, indent=2)
        stream.write("\n")
    elif fmt == "sarif":
        json.dump(to_sarif(result), stream, indent=2)
        stream.write("\n")
    else:
        for f in result.findings:
            stream.write(f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}\n")
        reported = {f.path for f in result.findings if f.code == UNPARSABLE}
        for path, reason in result.skipped:
            if path not in reported:  # PD001 ignored for it
                stream.write(f"{path}: skipped, cannot parse ({reason})\n")
        stream.write(
            f"{len(result.findings)} finding{'s' if len(result.findings) != 1 else ''} in "
            f"{result.files} files ({len(result.skipped)} not parsed)\n"
        )


# 2: each finding in the runtime report's shape (id, severity, title, location, fix).
JSON_VERSION = 2


def to_json(result: LintResult) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "files": result.files,
        "parsed": len(result.parsed),
        "skipped": [{"path": p, "error": e} for p, e in result.skipped],
        "findings": [f.to_dict() for f in result.findings],
    }


def to_sarif(result: LintResult) -> dict[str, Any]:
    rules = [
        sarif.rule(code, RULES[code].name, RULES[code].summary, RULES[code].level, _HELP)
        for code in sorted(RULES)
    ]
    results = [
        {
            "ruleId": f.code,
            "level": RULES[f.code].level,
            "message": {"text": f.message},
            "locations": [sarif.physical_location(f.path, f.line, f.col)],
        }
        for f in result.findings
    ]
    notifications = [
        {
            "level": "warning",
            "message": {"text": f"skipped, cannot parse: {reason}"},
            "locations": [sarif.physical_location(path)],
        }
        for path, reason in result.skipped
    ]
    return sarif.log(rules, results, notifications, _HELP)

"""``perfdoctor report --baseline old.json``: only the findings that are new.

``old.json`` is an earlier ``perfdoctor report --format json``.  A finding is old
when its ``fingerprint`` is in the baseline; a baseline written before findings
carried one is matched on (id, endpoint, location path, function) instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from perfdoctor.errors import UsageError
from perfdoctor.model import Finding

Key = tuple[str, Optional[str], Optional[str], Optional[str]]


@dataclass
class Baseline:
    fingerprints: set[str] = field(default_factory=set)
    keys: set[Key] = field(default_factory=set)

    def knows(self, finding: Finding) -> bool:
        return finding.fingerprint in self.fingerprints or key_of(finding) in self.keys


def key_of(finding: Finding) -> Key:
    location = finding.location
    return (
        finding.id,
        finding.endpoint,
        location.path if location else None,
        location.function if location else None,
    )


def _entry_key(entry: dict[str, Any]) -> Key:
    location = entry.get("location") or {}
    if not isinstance(location, dict):
        location = {}
    return (entry["id"], entry.get("endpoint"), location.get("path"), location.get("function"))


def load_baseline(path: str) -> Baseline:
    """Read a JSON report; anything else is a one-line UsageError."""
    where = f"--baseline {path}"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{where}: cannot read it ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(
            f"{where}: not JSON ({exc}); pass a `perfdoctor report --format json` output"
        ) from exc
    findings = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(findings, list) or data.get("version") != 1:
        raise UsageError(
            f"{where}: not a perfdoctor JSON report (version 1 with a findings list); "
            "make one with `perfdoctor report --format json -o old.json`"
        )
    baseline = Baseline()
    for entry in findings:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise UsageError(f"{where}: a finding without an id: {str(entry)[:80]}")
        fingerprint = entry.get("fingerprint")
        if isinstance(fingerprint, str) and fingerprint:
            baseline.fingerprints.add(fingerprint)
        else:
            baseline.keys.add(_entry_key(entry))
    return baseline

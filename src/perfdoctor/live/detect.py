"""The detectors that judge one request on its own, run on each live request."""

from __future__ import annotations

import dataclasses

from perfdoctor.analysis.analyze import impact_ms
from perfdoctor.callsite import display_path
from perfdoctor.detectors import Detector, all_detectors
from perfdoctor.model import SEVERITY_RANK, Finding, Trace
from perfdoctor.settings import Settings
from perfdoctor.suppress import apply_ignores

# What one request shows by itself. The other detectors compare requests (an
# endpoint's p95, a value cached across requests, connections per endpoint) or
# look at a response's shape: `perfdoctor report` has them.
LIVE_DETECTORS = frozenset(
    {"n-plus-one-query", "duplicate-query", "n-plus-one-http", "sequential-http", "slow-query"}
)


class RequestDetectors:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.detectors: list[Detector] = [d for d in all_detectors() if d.id in LIVE_DETECTORS]

    def findings(self, trace: Trace) -> list[Finding]:
        """``trace``'s findings, worst first, less those the project ignores."""
        found: list[Finding] = []
        for detector in self.detectors:
            try:
                found.extend(detector.analyze([trace], self.settings))
            except Exception:  # one detector's bug must not end the live lines
                continue
        for finding in found:
            # As `report` shows and matches it: relative to where perfdoctor runs.
            if finding.location is not None:
                finding.location = dataclasses.replace(
                    finding.location, path=display_path(finding.location.path)
                )
        if found:
            found, _ignored = apply_ignores(found, self.settings.ignore)
        found.sort(key=lambda f: (-SEVERITY_RANK[f.severity], -impact_ms(f), f.id))
        return found

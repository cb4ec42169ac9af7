"""What every detector is: a stable id, and a function from traces to findings."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import ClassVar

from perfdoctor.model import Finding, Trace
from perfdoctor.settings import Settings


class Detector:
    """A detector looks at all traces (cross-request statistics)."""

    id: ClassVar[str]
    description: ClassVar[str]

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        raise NotImplementedError


class PerTraceDetector(Detector):
    """A detector that judges each trace on its own, like Sentry's span detectors."""

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        found: list[Finding] = []
        for trace in traces:
            for finding in self.visit(trace, settings):
                if finding.trace_id is None:
                    finding.trace_id = trace.id
                found.append(finding)
        return found

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        raise NotImplementedError


def finding_fingerprint(*parts: object) -> str:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()

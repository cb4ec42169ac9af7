"""What every detector is: a stable id, and a function from traces to findings.

Analysis reads a store in chunks (the traces of one endpoint, a few hundred at a
time: :mod:`perfdoctor.analysis.analyze`), and each detector sees them through a
:class:`Session`: ``feed`` every chunk, then ``findings``.  A detector whose
session keeps only what it needs per query shape, call site or endpoint
(never the traces) analyses any number of traces in bounded memory.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar, Generic, TypeVar

from perfdoctor.analysis.merging import Merger
from perfdoctor.model import Finding, Trace
from perfdoctor.settings import Settings


class Session:
    """One detector's pass over a store: chunks of traces in, findings out.

    Chunks come endpoint by endpoint, in order of each endpoint's first trace,
    and the traces of one endpoint in the order they started."""

    def feed(self, traces: Sequence[Trace]) -> None:
        raise NotImplementedError

    def findings(self) -> list[Finding]:
        raise NotImplementedError


S = TypeVar("S")


class EndpointSession(Session, Generic[S]):
    """A session that keeps one summary per endpoint and judges each at the end.

    A detector's subclass says which traces it reads (``wants``), what a fresh
    summary is (``summary``), how a trace adds to one (``add``) and what an
    endpoint's summary makes (``judge``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.endpoints: dict[str, S] = {}

    def wants(self, trace: Trace) -> bool:
        return trace.kind == "http"

    def summary(self) -> S:
        raise NotImplementedError

    def add(self, summary: S, trace: Trace) -> None:
        raise NotImplementedError

    def judge(self, name: str, summary: S) -> Iterable[Finding]:
        raise NotImplementedError

    def feed(self, traces: Sequence[Trace]) -> None:
        for trace in traces:
            if not self.wants(trace):
                continue
            summary = self.endpoints.get(trace.name)
            if summary is None:
                summary = self.endpoints[trace.name] = self.summary()
            self.add(summary, trace)

    def findings(self) -> list[Finding]:
        found: list[Finding] = []
        for name in sorted(self.endpoints):
            found.extend(self.judge(name, self.endpoints[name]))
        return found


class JudgedEndpoints(EndpointSession[S]):
    """An :class:`EndpointSession` whose detector judges each endpoint's summary
    into at most one finding: ``judge(name, summary, settings)``, summaries made
    by ``make``; a subclass says how a trace adds to one (``add``), and which
    traces it reads (``wants``)."""

    def __init__(
        self,
        judge: Callable[[str, S, Settings], Finding | None],
        settings: Settings,
        make: Callable[[], S],
    ) -> None:
        super().__init__(settings)
        self._judge = judge
        self._make = make

    def summary(self) -> S:
        return self._make()

    def judge(self, name: str, summary: S) -> list[Finding]:
        finding = self._judge(name, summary, self.settings)
        return [finding] if finding is not None else []


class Detector:
    """A detector looks at all traces (cross-request statistics)."""

    id: ClassVar[str]
    description: ClassVar[str]
    # "endpoint": it judges each endpoint's traces apart from the others', so it
    # is run on one endpoint's traces at a time, then they are let go.
    scope: ClassVar[str] = "store"
    # The span kinds it reads, when it reads no others and a trace without one
    # cannot change what it finds: only traces with such a span are kept for it
    # ("slim": with only those spans; its findings must not depend on the others).
    reads: ClassVar[frozenset[str] | None] = None
    slim: ClassVar[bool] = True
    # With ``reads``: the trace attrs it reads (the others are left out of what is
    # kept); None keeps them all.
    reads_attrs: ClassVar[tuple[str, ...] | None] = None

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        raise NotImplementedError

    def session(self, settings: Settings) -> Session:
        """How this detector reads a store chunk by chunk.  By default it keeps
        the traces it needs (see ``scope`` and ``reads``) and runs
        :meth:`analyze` over them; a detector that can summarise as it goes
        returns its own session."""
        if self.scope == "endpoint":
            return _PerEndpoint(self, settings)
        return _Keeping(self, settings)


class Summarising(Detector):
    """A detector whose own session summarises as it goes: :meth:`analyze` is that
    session fed the traces given."""

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        session = self.session(settings)
        session.feed(traces)
        return session.findings()


class _Keeping(Session):
    def __init__(self, detector: Detector, settings: Settings) -> None:
        self.detector, self.settings = detector, settings
        self.traces: list[Trace] = []

    def feed(self, traces: Sequence[Trace]) -> None:
        kinds = self.detector.reads
        if kinds is None:
            self.traces.extend(traces)
            return
        from perfdoctor.detectors._kinds import of_kind

        detector = self.detector
        only = next(iter(kinds)) if len(kinds) == 1 else None
        for trace in traces:
            if only is not None:  # the trace's spans of that kind, in a list of its own
                spans = list(of_kind(trace, only))
            else:
                spans = [s for s in trace.spans if s.kind in kinds]
            if not spans:
                continue
            if not detector.slim:
                self.traces.append(trace)
                continue
            # The attrs kept are shared, not copied: readers never change them.
            attrs = trace.attrs
            if detector.reads_attrs is not None:
                attrs = {key: attrs[key] for key in detector.reads_attrs if key in attrs}
            self.traces.append(dataclasses.replace(trace, spans=spans, attrs=attrs))

    def findings(self) -> list[Finding]:
        return self.detector.analyze(self.traces, self.settings)


class _PerEndpoint(Session):
    """One endpoint's traces at a time (chunks come endpoint by endpoint)."""

    def __init__(self, detector: Detector, settings: Settings) -> None:
        self.detector, self.settings = detector, settings
        self.name: str | None = None
        self.traces: list[Trace] = []
        self.found: list[Finding] = []

    def feed(self, traces: Sequence[Trace]) -> None:
        for trace in traces:
            if trace.name != self.name:
                self._flush()
                self.name = trace.name
            self.traces.append(trace)

    def _flush(self) -> None:
        if self.traces:
            self.found.extend(self.detector.analyze(self.traces, self.settings))
        self.traces = []

    def findings(self) -> list[Finding]:
        self._flush()
        return self.found


class PerTraceDetector(Detector):
    """A detector that judges each trace on its own, like Sentry's span detectors."""

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        found: list[Finding] = []
        for trace in traces:
            found.extend(self._visited(trace, settings))
        return found

    def _visited(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        for finding in self.visit(trace, settings):
            if finding.trace_id is None:
                finding.trace_id = trace.id
            yield finding

    def session(self, settings: Settings) -> Session:
        return _PerTrace(self, settings)

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        raise NotImplementedError


class _PerTrace(Session):
    """Each trace's findings merged as they come: one finding and a count per
    fingerprint are kept, not one finding per trace."""

    def __init__(self, detector: PerTraceDetector, settings: Settings) -> None:
        self.detector, self.settings = detector, settings
        self.merged = Merger()

    def feed(self, traces: Sequence[Trace]) -> None:
        # _visited inlined: most traces give a detector no finding, and a
        # generator and a call per trace and detector add up over a big store.
        visit, settings, add = self.detector.visit, self.settings, self.merged.add
        for trace in traces:
            for finding in visit(trace, settings):
                if finding.trace_id is None:
                    finding.trace_id = trace.id
                add(finding)

    def findings(self) -> list[Finding]:
        return self.merged.findings()


def finding_fingerprint(*parts: object) -> str:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()

"""What a bench drives: the app in this process, a server over HTTP, or the app in a
worker process (one per side of an interleaved A/B run).

Each side is started, then asked for rounds, then finished; :func:`run_rounds`
runs the rounds in a given order of sides and notes the machine's CPU pressure
around each.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol

from perfdoctor.bench import machine
from perfdoctor.bench.run import (
    Outcome,
    Plan,
    Progress,
    Sample,
    check_probe,
    run_async,
    run_sync,
    trace_facts,
    warm_async,
    warm_sync,
)
from perfdoctor.bench.targets import ASGITarget, HTTPTarget, WSGITarget, is_asgi


class Side(Protocol):
    def start(self) -> None: ...

    def round(self, index: int, jobs: list[int], progress: Progress) -> list[Sample]: ...

    def finish(self) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
        """Per measured trace id, what the capture counted; the run's findings."""
        ...

    def close(self) -> None: ...


class HTTPSide:
    def __init__(self, plan: Plan, url: str) -> None:
        self.plan = plan
        self.target = HTTPTarget(url, plan.headers)
        # The machine's speed after the last round (see machine.canary_ms).
        self.canary: float | None = None

    def start(self) -> None:
        for endpoint in self.plan.endpoints:
            check_probe(endpoint, self.target.probe(endpoint))
        warm_sync(self.plan, self.target.call, set())

    def round(self, index: int, jobs: list[int], progress: Progress) -> list[Sample]:
        samples = run_sync(self.plan, jobs, index, self.target.call, progress)
        self.canary = machine.canary_ms()
        return samples

    def finish(self) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
        return self.target.facts, []

    def close(self) -> None:
        pass


class InProcessSide:
    """The app called in this process under perfdoctor's capture."""

    def __init__(self, plan: Plan, app: Any, memory: bool) -> None:
        self.plan = plan
        self.app = app
        self.memory = memory
        self.workdir = Path(tempfile.mkdtemp(prefix="perfdoctor-bench-"))
        self.warmup_traces: set[str] = set()
        self.measured: set[str] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.asgi: ASGITarget | None = None
        self.wsgi: WSGITarget | None = None
        self._undo: Any = None
        self._instrumented = False
        self.canary: float | None = None

    def start(self) -> None:
        import perfdoctor
        from perfdoctor.bench.targets import watch_traces

        perfdoctor.instrument(self.workdir / "traces.db", memory=self.memory)
        self._instrumented = True
        self._undo = watch_traces()
        first = self.plan.endpoints[0]
        if is_asgi(self.app):
            self.asgi = asgi = ASGITarget(self.app, self.plan.headers)
            self.loop = asyncio.new_event_loop()

            async def begin() -> None:
                await asgi.startup()
                if (await asgi.call(first))[1] is None:
                    asgi.wrap_if_untraced()
                await warm_async(self.plan, asgi, self.warmup_traces)

            self.loop.run_until_complete(begin())
        else:
            self.wsgi = wsgi = WSGITarget(self.app, self.plan.headers)
            if wsgi.call(first)[1] is None:
                wsgi.wrap_if_untraced()
            warm_sync(self.plan, wsgi.call, self.warmup_traces, wsgi)

    def round(self, index: int, jobs: list[int], progress: Progress) -> list[Sample]:
        if self.asgi is not None and self.loop is not None:
            samples = self.loop.run_until_complete(
                run_async(self.plan, jobs, index, self.asgi, progress)
            )
        else:
            assert self.wsgi is not None
            samples = run_sync(self.plan, jobs, index, self.wsgi.call, progress)
        self.measured.update(s.trace_id for s in samples if s.trace_id is not None)
        self.canary = machine.canary_ms()
        return samples

    def finish(self) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
        from perfdoctor import store
        from perfdoctor.analysis.analyze import analyze
        from perfdoctor.settings import load_settings

        self._stop()
        traces = [t for t in store.load_traces(self.workdir / "traces.db") if t.id in self.measured]
        findings = (
            [f.to_dict() for f in analyze(traces, load_settings()).findings] if traces else []
        )
        return trace_facts(traces), findings

    def _stop(self) -> None:
        import perfdoctor

        if self.loop is not None and self.asgi is not None:
            self.loop.run_until_complete(self.asgi.shutdown())
            self.loop.close()
            self.loop = None
        if self._undo is not None:
            self._undo()
            self._undo = None
        if self._instrumented:
            perfdoctor.uninstrument()
            self._instrumented = False

    def close(self) -> None:
        try:
            self._stop()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


def run_rounds(
    plan: Plan, sides: list[Side], order: list[int], progress: Progress
) -> list[Outcome]:
    """Round after round, ``order[k]`` naming the side that runs the k-th; one outcome per side.

    Rounds run back to back: pausing between them to spread a run over time was
    tried, and the first requests after each pause ran 60% slower (a CPU that
    had dropped into an idle state), which made rounds bimodal.
    """
    outcomes = [Outcome(load1=[machine.load1()]) for _ in sides]
    done = [0] * len(sides)
    pids = [pid for side in sides if (pid := getattr(side, "pid", None)) is not None]
    for which in order:
        index = done[which]
        done[which] += 1
        meter = machine.Meter.start(pids)
        samples = sides[which].round(index, plan.round_jobs(index), progress)
        outcomes[which].samples.extend(samples)
        outcomes[which].pressure.append(meter.pressure_pct())
        outcomes[which].other.append(meter.other_pct())
        outcomes[which].canary.append(getattr(sides[which], "canary", None))
    for outcome in outcomes:
        outcome.load1.append(machine.load1())
    return outcomes


def abba(rounds: int) -> list[int]:
    """0 1 1 0 0 1 1 0 ...: the k-th round of each side shares the k-th pair of slots, and
    a steady drift favours neither side."""
    order: list[int] = []
    for k in range(rounds):
        order += [0, 1] if k % 2 == 0 else [1, 0]
    return order

"""What the demo-area tests share: one quiet run of the whole demo, and where a line is."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from perfdoctor import store
from perfdoctor.analysis.analyze import Analysis, analyze
from perfdoctor.demo.driver import run_demo
from perfdoctor.model import Finding, Trace
from perfdoctor.settings import Settings


def run_quietly(folder: Path, rounds: int) -> list[Trace]:
    """Run every demo area ``rounds`` times into ``folder``; the traces it stored."""
    traces = folder / "traces.db"
    # The driver's progress would clutter pytest's output.
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        run_demo(traces, rounds=rounds, quiet=True, database=folder / "demo.sqlite")
    return store.load_traces(traces)


def analyze_run(folder: Path, rounds: int) -> Analysis:
    return analyze(run_quietly(folder, rounds), Settings())


# One run of the whole demo serves every demo-area and HTML-report test (the
# `shared_demo` fixture of tests/conftest.py): capture is the slow part, and each
# module running its own cost half a minute apiece. Three rounds: cache-candidate
# wants a read in three requests.
DEMO_ROUNDS = 3


@dataclass(frozen=True)
class SharedDemo:
    folder: Path
    stdout: str  # what the quiet run printed: nothing
    stderr: str

    @property
    def traces_path(self) -> Path:
        return self.folder / "traces.db"

    @property
    def database(self) -> Path:
        return self.folder / "demo.sqlite"

    def traces(self) -> list[Trace]:
        return store.load_traces(self.traces_path)

    def analysis(self) -> Analysis:
        return analyze(self.traces(), Settings())


def run_shared(folder: Path) -> SharedDemo:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        run_demo(
            folder / "traces.db", rounds=DEMO_ROUNDS, quiet=True, database=folder / "demo.sqlite"
        )
    return SharedDemo(folder, out.getvalue(), err.getvalue())


def line_in(source: Path, text: str) -> int:
    """The line of ``source`` holding ``text``, which must be on exactly one line."""
    lines = source.read_text(encoding="utf-8").splitlines()
    matches = [n for n, line in enumerate(lines, start=1) if text in line]
    assert len(matches) == 1, f"{text!r} should be on exactly one line of {source}"
    return matches[0]


def one(analysis: Analysis, detector: str, endpoint: str) -> Finding:
    found = [f for f in analysis.findings if f.id == detector and f.endpoint == endpoint]
    assert len(found) == 1, (detector, endpoint, [(f.id, f.endpoint) for f in analysis.findings])
    return found[0]

"""pytest plugin: each test as a trace, query assertions, and per-test budgets.

Loaded by every pytest run through the ``pytest11`` entry point, so it does
nothing at all unless asked: ``--perfdoctor``, the ``assert_max_queries`` or
``assert_no_n_plus_one`` fixture, or the ``perf_budget`` marker.

* ``pytest --perfdoctor``: capture is on for the session, in this process; each
  test's body (not its fixtures) is one trace named by the test's node id, and
  the findings are printed in the terminal summary.  ``--perfdoctor-fail-on
  error`` makes the run fail when a finding at that level exists.
* Requests made with a test client (Django's, Flask's, FastAPI's TestClient)
  run inside the test's trace: the app's integrations see a trace already in
  progress and join it rather than starting their own, so an N+1 in a view is
  reported against the test that exercised it, at the view's line.  A request
  served on another thread (a live server) finishes as its own trace, which the
  running test collects into its trace.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from perfdoctor.analysis.analyze import Analysis
    from perfdoctor.capture.context import ActiveTrace
    from perfdoctor.model import Location, Trace
    from perfdoctor.settings import Settings

_FIXTURES = frozenset({"assert_max_queries", "assert_no_n_plus_one"})
_MARKER = "perf_budget"
_SEVERITIES = ("error", "warning", "info")
_STATE_KEY = pytest.StashKey["_Capture"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("perfdoctor", "perfdoctor: performance findings per test")
    group.addoption(
        "--perfdoctor",
        action="store_true",
        default=False,
        help="Capture each test as a trace and print perfdoctor's findings at the end.",
    )
    group.addoption(
        "--perfdoctor-traces",
        metavar="PATH",
        default=None,
        help="Trace store to write the tests' traces to (default: a temporary one).",
    )
    group.addoption(
        "--perfdoctor-fail-on",
        choices=_SEVERITIES,
        default=None,
        help="Fail the run when a finding of this severity or worse is found.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(max_queries=None, max_ms=None): fail the test when its body runs "
        "more queries or takes longer (perfdoctor)",
    )
    if config.getoption("perfdoctor_fail_on") and not config.getoption("perfdoctor"):
        config.option.perfdoctor = True
    if config.getoption("perfdoctor"):
        # On before any test module is imported: connections made at import or in
        # session fixtures are traced too.
        _start(config, session=True)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> None:
    """Switch capture on before a test module that uses perfdoctor is imported.

    An app module it imports may open its database connection at import time
    (an SQLAlchemy engine with a StaticPool): connections opened before capture
    is on are not traced.  The text is only searched for the fixtures' and the
    marker's names; the module is imported by pytest as usual.
    """
    config = parent.config
    if _STATE_KEY in config.stash or file_path.suffix != ".py":
        return
    try:
        text = file_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    if any(name in text for name in (*_FIXTURES, _MARKER)) and _uses_perfdoctor(text):
        _start(config, session=False)


def _uses_perfdoctor(source: str) -> bool:
    """A test function asks for a fixture, or code names the marker (not a string)."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(arg.arg in _FIXTURES for arg in node.args.args):
                return True
        elif isinstance(node, ast.Attribute) and node.attr == _MARKER:
            return True
    return False


def _start(config: pytest.Config, session: bool) -> None:
    capture = _Capture(config, session=session)
    config.stash[_STATE_KEY] = capture
    capture.start()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if _STATE_KEY in config.stash:
        return
    if any(_wants_capture(item) for item in items):
        # Before any fixture runs, so the test database's connection is traced.
        _start(config, session=False)


def _wants_capture(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return bool(_FIXTURES.intersection(names)) or item.get_closest_marker(_MARKER) is not None


def pytest_unconfigure(config: pytest.Config) -> None:
    capture = config.stash.get(_STATE_KEY, None)
    if capture is not None:
        capture.stop()
        del config.stash[_STATE_KEY]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    capture = item.config.stash.get(_STATE_KEY, None)
    if capture is None or not (capture.session or _wants_capture(item)):
        return (yield)
    active = capture.begin(item)
    try:
        result = yield
    finally:
        trace = capture.end(active, item.nodeid)
    marker = item.get_closest_marker(_MARKER)
    if marker is not None and trace is not None:
        _check_budget(marker, trace)
    return result


def _check_budget(marker: pytest.Mark, trace: Trace) -> None:
    max_queries = marker.kwargs.get("max_queries")
    max_ms = marker.kwargs.get("max_ms")
    broken = []
    queries = [s for s in trace.spans if s.kind == "db"]
    if max_queries is not None and len(queries) > max_queries:
        broken.append(
            f"{len(queries)} queries, budget {max_queries}:\n" + _query_lines(queries, indent="  ")
        )
    if max_ms is not None and trace.duration_ms > max_ms:
        broken.append(f"{trace.duration_ms:.0f} ms, budget {max_ms} ms")
    if broken:
        pytest.fail("perf_budget broken: " + "; ".join(broken), pytrace=False)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    capture = config.stash.get(_STATE_KEY, None)
    if capture is None or not capture.session:
        return
    analysis = capture.analysis()
    terminalreporter.section("perfdoctor")
    if analysis is None:
        terminalreporter.write_line("perfdoctor: no test ran, nothing to analyse")
        return
    import io

    from perfdoctor.report.text import render

    out = io.StringIO()
    # The terminal's width when pytest writes to one (its writer is private but has
    # been `_tw` since pytest 3); 120 for a file or CI's log, as `perfdoctor report`.
    writer = getattr(terminalreporter, "_tw", None) if terminalreporter.isatty else None
    render(analysis, out, width=getattr(writer, "fullwidth", None))
    terminalreporter.write(out.getvalue())
    for line in capture.test_lines(analysis):
        terminalreporter.write_line(line)
    if capture.path is not None and capture.keep_store:
        terminalreporter.write_line(f"perfdoctor: traces written to {capture.path}")
    level = config.getoption("perfdoctor_fail_on")
    if analysis.fails(level):
        terminalreporter.write_line(
            f"perfdoctor: failing the run: findings at severity {level} or worse",
            red=True,
            bold=True,
        )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    capture = session.config.stash.get(_STATE_KEY, None)
    if capture is None or not capture.session:
        return
    level = session.config.getoption("perfdoctor_fail_on")
    analysis = capture.analysis()
    if analysis is not None and analysis.fails(level) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


class _Capture:
    """Capture switched on for this pytest process, and the test being traced."""

    def __init__(self, config: pytest.Config, session: bool) -> None:
        self.config = config
        self.session = session
        option = config.getoption("perfdoctor_traces")
        self.keep_store = option is not None
        self.path: Path | None = Path(option) if option else None
        self.tests: list[Trace] = []
        self.active: ActiveTrace | None = None
        self._submit: Callable[[ActiveTrace], None] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._analysis: Analysis | None = None
        self._settings: Settings | None = None
        self._last: Trace | None = None

    def start(self) -> None:
        import perfdoctor
        from perfdoctor.capture import context

        if self.path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="perfdoctor-pytest-")
            self.path = Path(self._tmp.name) / "traces.db"
        perfdoctor.instrument(self.path)
        self._submit = context.state.on_finish
        context.state.on_finish = self._finished

    def stop(self) -> None:
        import perfdoctor
        from perfdoctor.capture import sqlite

        perfdoctor.uninstrument()
        sqlite.uninstall()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def settings(self) -> Settings:
        if self._settings is None:
            from perfdoctor.settings import find_pyproject, load_settings

            self._settings = load_settings(find_pyproject(Path(str(self.config.rootpath))))
        return self._settings

    def begin(self, item: pytest.Item) -> tuple[ActiveTrace, Any]:
        from perfdoctor.capture import context

        active, token = context.start(item.nodeid, "test")
        self.active = active
        return active, token

    def end(self, started: tuple[ActiveTrace, Any], name: str) -> Trace | None:
        """Close the test's trace; the model trace, or None if capture was off."""
        from perfdoctor.capture import context

        active, token = started
        self.active = None
        # Flask names the trace in progress after its URL rule: a request made
        # with its test client joined the test's trace, which keeps the test's name.
        active.name = name
        self._last = None
        context.finish(active, token)
        last, self._last = self._last, None
        return last

    def _finished(self, active: ActiveTrace) -> None:
        try:
            test = self.active
            if test is not None and active is not test and active.kind == "http":
                # A request served on another thread while the test ran: its work is
                # the test's (offsets moved to the test's clock).
                shift = active.start - test.start
                test.spans.extend((raw[0], raw[1] + shift, *raw[2:]) for raw in active.spans)
                return
            if active.kind == "test":
                trace = to_model(active)
                self._last = trace
                if self.session:
                    self.tests.append(trace)
            if self.session and self._submit is not None:
                self._submit(active)
        except Exception:  # never break the test run over perfdoctor's bookkeeping
            pass

    def test_lines(self, analysis: Analysis) -> list[str]:
        """One line per finding in a test: the test, where the work ran, and the
        test's own line that led there (the request or call it made)."""
        from perfdoctor.callsite import display_path

        by_name = {t.name: t for t in self.tests}
        lines = []
        for finding in analysis.findings:
            trace = by_name.get(finding.endpoint or "")
            if trace is None or finding.location is None:
                continue
            test_file = str(Path(str(self.config.rootpath)) / trace.name.split("::")[0])
            from_line = None
            for span in trace.spans:
                here = span.location
                if here is None or (display_path(here.path), here.line) != (
                    finding.location.path,
                    finding.location.line,
                ):
                    continue
                frames = list(span.stack)
                # A request served on the TestClient's thread: the test's line is
                # where it sent the request that enclosed this work.
                frames += [
                    r.location
                    for r in trace.spans
                    if r.kind == TEST_REQUEST
                    and r.location is not None
                    and r.start_ms <= span.start_ms <= r.end_ms
                ]
                for frame in frames:
                    if frame.path == test_file:
                        from_line = f"{display_path(frame.path)}:{frame.line}"
                        break
                break
            called = (
                f" (from {from_line})"
                if from_line and from_line != _where(finding.location)
                else ""
            )
            lines.append(
                f"{finding.severity.upper()} {finding.id} in {trace.name}: "
                f"{finding.location.path}:{finding.location.line}{called}"
            )
        return lines

    def analysis(self) -> Analysis | None:
        if self._analysis is None and self.tests:
            from perfdoctor.analysis.analyze import analyze

            self._analysis = analyze(self.tests, self.settings())
        return self._analysis


# Starlette's TestClient sends its requests through httpx to this host, in
# process: the app's work is in the trace already, and the call is no outbound
# HTTP (five requests from one test are not an N+1 of calls to an API).
_TEST_HOSTS = frozenset({"testserver"})
TEST_REQUEST = "test.request"


def _relabel(raw: tuple[Any, ...]) -> tuple[Any, ...]:
    if raw[0] != "http" or len(raw) < 6 or not isinstance(raw[5], dict):
        return raw
    host = str(raw[5].get("host") or "").rsplit(":", 1)[0]
    return (TEST_REQUEST, *raw[1:]) if host in _TEST_HOSTS else raw


def to_model(active: ActiveTrace) -> Trace:
    """A finished trace as detectors read it, without a round trip through the store."""
    from perfdoctor import store
    from perfdoctor.capture.encode import Encoder
    from perfdoctor.model import Location
    from perfdoctor.model import Trace as ModelTrace
    from perfdoctor.orm import stored as orm_stored

    active.spans = [_relabel(raw) for raw in active.spans]
    batch = store.Batch()
    Encoder().add(active, batch)
    row = batch.traces[0]
    stacks = {
        stack_id: [Location(p, int(line), fn) for p, line, fn in json.loads(frames)]
        for stack_id, frames in batch.stacks.items()
    }
    attrs = json.loads(row[8])
    return ModelTrace(
        id=row[0],
        name=row[1],
        kind=row[2],
        started_at=row[3],
        duration_ms=row[4],
        status=row[5],
        pid=row[6],
        cpu_ms=row[7],
        spans=store._spans(row[9], stacks, batch.statements),
        attrs=attrs,
        # the app's models, as the store would give them back
        orm=orm_stored.catalogs_for(attrs, batch.orm_catalogs),
    )


# --- fixtures -------------------------------------------------------------------------


@dataclass
class QueryLog:
    """The queries a block ran (statements with literals replaced, and where)."""

    statements: list[str] = field(default_factory=list)
    locations: list[Location | None] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def __len__(self) -> int:
        return len(self.statements)


def _query_lines(spans: list[Any], indent: str = "  ") -> str:
    lines = []
    for n, span in enumerate(spans, start=1):
        where = f"  ({_where(span.location)})" if span.location is not None else ""
        lines.append(f"{indent}{n}. {span.statement}{where}")
    return "\n".join(lines)


def _where(location: Location | None) -> str:
    if location is None:
        return "no call site in your code"
    from perfdoctor.callsite import display_path

    return f"{display_path(location.path)}:{location.line}"


def _block_trace(capture: _Capture, start: int, started: float) -> Trace:
    """What the running test's trace captured since ``start`` (a span index)."""
    from perfdoctor.capture.context import ActiveTrace, perf_counter

    test = capture.active
    if test is None:
        pytest.fail("perfdoctor: query assertions work inside a test's body only", pytrace=False)
    block = ActiveTrace(test.name, "test")
    block.start = started
    shift = test.start - started
    block.spans = [(raw[0], raw[1] + shift, *raw[2:]) for raw in test.spans[start:]]
    block.attrs = dict(test.attrs)
    block.finished = perf_counter()
    return to_model(block)


def _capture_of(request: pytest.FixtureRequest) -> _Capture:
    capture = request.config.stash.get(_STATE_KEY, None)
    if capture is None:  # pragma: no cover - collection switched it on
        pytest.fail("perfdoctor: capture is not on", pytrace=False)
    return capture


@pytest.fixture
def assert_max_queries(
    request: pytest.FixtureRequest,
) -> Callable[[int], Any]:
    """``with assert_max_queries(3): ...`` fails when the block ran more than 3 queries."""
    capture = _capture_of(request)

    @contextmanager
    def check(n: int) -> Iterator[QueryLog]:
        from perfdoctor.capture.context import perf_counter

        log = QueryLog()
        test = capture.active
        start = len(test.spans) if test is not None else 0
        started = perf_counter()
        yield log
        trace = _block_trace(capture, start, started)
        queries = [s for s in trace.spans if s.kind == "db"]
        log.statements[:] = [s.statement or "" for s in queries]
        log.locations[:] = [s.location for s in queries]
        if len(queries) > n:
            pytest.fail(
                f"{len(queries)} queries ran, at most {n} expected:\n" + _query_lines(queries),
                pytrace=False,
            )

    return check


@pytest.fixture
def assert_no_n_plus_one(
    request: pytest.FixtureRequest,
) -> Callable[[], Any]:
    """``with assert_no_n_plus_one(): ...`` fails on an N+1 query pattern in the block."""
    capture = _capture_of(request)

    @contextmanager
    def check() -> Iterator[None]:
        from perfdoctor.capture.context import perf_counter
        from perfdoctor.detectors.n_plus_one_query import NPlusOneQuery

        test = capture.active
        start = len(test.spans) if test is not None else 0
        started = perf_counter()
        yield
        trace = _block_trace(capture, start, started)
        findings = list(NPlusOneQuery().analyze([trace], capture.settings()))
        if findings:
            lines = [f"{f.title}\n  at {_where(f.location)}\n  fix: {f.fix}" for f in findings]
            pytest.fail("n-plus-one-query: " + "\n".join(lines), pytrace=False)

    return check

"""The ``perfdoctor`` command line."""

from __future__ import annotations

import errno
import io
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeVar

import click

from perfdoctor import __version__, store
from perfdoctor.errors import PerfdoctorError, UsageError

if TYPE_CHECKING:  # imported where used: `perfdoctor --help` stays quick
    from perfdoctor.analysis.analyze import Analysis
    from perfdoctor.progress import Feedback
    from perfdoctor.settings import Settings

_TRACES_HELP = "Trace store to use (default: .perfdoctor/traces.db, or $PERFDOCTOR_TRACES)."


def _traces_path(value: str | None) -> Path:
    return Path(value) if value else store.default_path()


F = TypeVar("F", bound=Callable[..., Any])


def traces_option(func: F) -> F:
    return click.option("--traces", "traces", metavar="PATH", default=None, help=_TRACES_HELP)(func)


# Exit codes, the same for every command (the README's "Exit codes" says so too).
EXIT_OK = 0  # done, nothing to flag
EXIT_FOUND = 1  # findings (lint), --fail-on met (report, audit), a regression (compare),
# a problem (watch --once)
EXIT_UNUSABLE = 2  # the job could not be done: bad input, nothing usable in it
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


class _Group(click.Group):
    """Turns perfdoctor's own errors into one line on stderr per bad input and exit
    code 2; an unexpected error exits 2 too, never 1, which means findings."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except PerfdoctorError as exc:
            for line in exc.lines():
                click.echo(f"perfdoctor: error: {line}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("perfdoctor: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except (click.exceptions.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # click quiets a closed pipe (perfdoctor report | head)
            _internal(exc)
        except Exception as exc:
            _internal(exc)


def _internal(exc: Exception) -> NoReturn:
    traceback.print_exc()
    what = " ".join(f"{type(exc).__name__}: {exc}".split())
    click.echo(f"perfdoctor: error: internal error, a bug to report: {what}", err=True)
    sys.exit(EXIT_UNUSABLE)


_EXIT_CODES = """Exit codes, every command:

\b
  0  done, nothing to flag
  1  findings: lint found some, report/audit --fail-on met, compare saw a regression,
     watch --once saw a problem
  2  could not do the job: bad input or nothing usable in it (one line on stderr each)
  run exits with its command's code (3: nothing captured though the command succeeded)."""


@click.group(
    cls=_Group, epilog=_EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]}
)
# The version given, not looked up by package name: click 7 cannot.
@click.version_option(__version__, prog_name="perfdoctor")
def main() -> None:
    """Find backend performance bottlenecks with evidence, and prove the fixes."""


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@traces_option
@click.option("--clear", is_flag=True, help="Empty the trace store before running.")
@click.option(
    "--capture-params", is_flag=True, help="Also store query parameter values (off by default)."
)
@click.option(
    "--memory",
    is_flag=True,
    help="Also record each request's peak memory and allocation sites (tracemalloc; slower).",
)
@click.option(
    "--profile",
    is_flag=True,
    help="Also sample each request with pyinstrument: hot spots per endpoint, speedscope files.",
)
@click.option(
    "--exit-timeout",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="How long a process may take at exit to write its last traces before it sets "
    "them aside for the next report (default 2, or exit_flush_timeout_s in [tool.perfdoctor]).",
)
@click.option(
    "--max-store-mb",
    type=click.FloatRange(min=0),
    default=None,
    metavar="MB",
    help="Keep the trace store under MB, dropping the oldest traces "
    "(default: the max_store_mb setting, 100; 0 for no cap).",
)
@click.option(
    "--sample",
    default=None,
    metavar="RATE",
    help="Keep the traces of this share of requests, e.g. 0.05, and of every slow or failed "
    "one; reports scale their counts (default 1: all, or sample_rate in [tool.perfdoctor]).",
)
@click.option(
    "--sample-tail",
    default=None,
    metavar="full|summary",
    help="With --sample, what a slow or failed request the draw left out keeps. full: its "
    "queries and lines (every request is captured as it runs: sampling saves storage, not "
    "the app's time); summary: its endpoint, status and timings (only drawn requests are "
    "captured: cheap enough to leave on). Default: sample_tail in [tool.perfdoctor], full.",
)
@click.option(
    "--live/--no-live",
    default=None,
    help="A line on stderr per finished request: status, time, queries, findings with "
    "their line of code (default: on when stderr is a terminal and CI is not set).",
)
@click.option(
    "--server-timing",
    is_flag=True,
    help="Add a Server-Timing header (db, http, cache time) to each response, for the "
    "browser's DevTools. For development only: it tells any client what a page runs.",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
def run(
    traces: str | None,
    clear: bool,
    capture_params: bool,
    memory: bool,
    profile: bool,
    exit_timeout: float | None,
    max_store_mb: float | None,
    sample: str | None,
    sample_tail: str | None,
    live: bool | None,
    server_timing: bool,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND with capture on in every Python process it starts.

    \b
    perfdoctor run -- python manage.py runserver --noreload
    perfdoctor run -- gunicorn app:app -w 2
    perfdoctor run -- uvicorn app:app
    """
    from perfdoctor import runner
    from perfdoctor.settings import load_settings

    path = _traces_path(traces)
    settings = load_settings()
    max_store_mb = settings.max_store_mb if max_store_mb is None else max_store_mb
    exit_timeout = settings.exit_flush_timeout_s if exit_timeout is None else exit_timeout
    rate = _sample_rate(sample, settings.sample_rate)
    slow_ms, own_budgets = _tail_thresholds(settings) if rate < 1.0 else (None, None)
    tail = _sample_tail(sample_tail, settings.sample_tail)
    if sample_tail is not None and rate >= 1.0:
        click.echo(
            "perfdoctor: --sample-tail has no effect without --sample: every request is captured",
            err=True,
        )
    if clear:
        store.clear(path)
    code = runner.run(
        command,
        path,
        capture_params=capture_params,
        memory=memory,
        profile=profile,
        exit_timeout=exit_timeout,
        max_store_mb=max_store_mb,
        sample=rate,
        sample_slow_ms=slow_ms,
        sample_budgets=own_budgets,
        sample_tail=tail if rate < 1.0 else None,
        server_timing=server_timing,
        live=settings if (runner.live_by_default() if live is None else live) else None,
    )
    sys.exit(code)


def _tail_thresholds(settings: Settings) -> tuple[float, dict[str, float]]:
    """The tail rule's slow threshold, lowered to the default p95 budget when that
    is lower, and the endpoints' own p95 budgets: a request over either is kept."""
    from perfdoctor.analysis.budgets import load_budgets

    budgets = load_budgets()[0]
    default = budgets.default.get("p95_ms")
    slow_ms = settings.sample_slow_ms if default is None else min(settings.sample_slow_ms, default)
    own = {n: limits["p95_ms"] for n, limits in budgets.endpoints.items() if "p95_ms" in limits}
    return slow_ms, own


def _sample_tail(option: str | None, setting: str) -> str:
    from perfdoctor.capture.sampling import parse_tail

    return _option_or_setting(option, setting, parse_tail, "--sample-tail", "sample_tail")


def _sample_rate(option: str | None, setting: float) -> float:
    from perfdoctor.capture.sampling import parse_rate

    return _option_or_setting(option, setting, parse_rate, "--sample", "sample_rate")


_Parsed = TypeVar("_Parsed")


def _option_or_setting(
    option: str | None,
    setting: object,
    parse: Callable[[object], _Parsed],
    flag: str,
    key: str,
) -> _Parsed:
    """``option`` when given, else the ``key`` setting, read by ``parse``; a bad
    value is a one-line usage error that names where it came from."""
    try:
        return parse(setting if option is None else option)
    except ValueError as exc:
        where = flag if option is not None else f"{key} in [tool.perfdoctor]"
        raise UsageError(f"{where}: {exc}") from None


@main.command()
@traces_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html", "markdown", "sarif"]),
    default="text",
    show_default=True,
    help="html: one self-contained file; markdown: a pull-request comment; sarif: code scanning.",
)
@click.option("--output", "-o", metavar="FILE", default=None, help="Write to FILE, not stdout.")
@click.option(
    "--compare",
    "compare_path",
    metavar="FILE",
    default=None,
    help="Show this `perfdoctor compare --format json` result as before/after (html, markdown).",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info"]),
    default=None,
    help="Exit with code 1 when a finding of this severity or worse is found.",
)
@click.option(
    "--db", "db", metavar="URL", default=None, help="Also run the index advisor on this database."
)
@click.option(
    "--baseline",
    "baseline_path",
    metavar="FILE",
    default=None,
    help="Show only findings not in FILE, an earlier `perfdoctor report --format json`.",
)
@click.option(
    "--verbose", "-v", is_flag=True, help="List ignored findings with the reason for each."
)
@click.option(
    "--lint",
    "lint_paths",
    metavar="PATH",
    multiple=True,
    help="Also lint PATH: static findings on a finding's line are shown with it.",
)
def report(
    traces: str | None,
    fmt: str,
    output: str | None,
    compare_path: str | None,
    fail_on: str | None,
    db: str | None,
    baseline_path: str | None,
    verbose: bool,
    lint_paths: tuple[str, ...],
) -> None:
    """Analyse the captured traces and print the findings.

    \b
    perfdoctor report
    perfdoctor report --baseline old.json   (only findings not in old.json)
    perfdoctor report --format html -o report.html --compare compare.json
    perfdoctor report --format sarif -o perfdoctor.sarif
    """
    from perfdoctor.progress import Feedback
    from perfdoctor.report import render
    from perfdoctor.settings import load_settings
    from perfdoctor.suppress import apply_baseline
    from perfdoctor.suppress.baseline import load_baseline

    settings = load_settings()
    # Read every input before the analysis, so a bad file fails fast.
    comparison = None
    if compare_path:
        from perfdoctor.bench.compare import load_comparison

        comparison = load_comparison(compare_path)
    baseline = load_baseline(baseline_path) if baseline_path else None
    path = _traces_path(traces)
    feedback = Feedback.for_format(fmt)
    analysis, loaded = _analyse_store(path, settings, keep=fmt == "html", feedback=feedback)
    if db:
        from perfdoctor.advisor.findings import add_to

        add_to(analysis, db, path, settings, feedback)
    if lint_paths:
        from perfdoctor.lint import lint_paths as run_lint
        from perfdoctor.lint import load_config
        from perfdoctor.lint.runtime import attach

        attach(analysis.findings, run_lint(_existing(lint_paths), load_config()))
    if baseline is not None:
        # Last: budget and index findings can be in the baseline too.
        analysis.findings, analysis.suppressed.baseline = apply_baseline(
            analysis.findings, baseline
        )
    with _output(output) as stream:
        render(
            analysis,
            fmt,
            stream,
            traces=loaded,
            compare=comparison,
            store=str(path),
            verbose=verbose,
        )
    if output:
        click.echo(f"perfdoctor: wrote {fmt} report to {output}", err=True)
    # A text report on the terminal says what it skipped; other formats go to
    # files and tools, so the person running the command is told on stderr.
    shown = fmt == "text" and output is None
    for line in analysis.damage.notes if shown else analysis.damage.warnings():
        click.echo(f"perfdoctor: warning: {line}", err=True)
    sys.exit(EXIT_FOUND if analysis.fails(fail_on) else EXIT_OK)


def _analyse_store(
    path: Path, settings: Any, keep: bool, feedback: Feedback
) -> tuple[Any, list[Any]]:
    """The analysis of the store at ``path``, read chunk by chunk (one endpoint's
    traces at a time) so memory does not grow with the store; ``keep``: also
    every trace, for a format that draws them (html).  Traces read are counted on
    ``feedback``'s bar (a large store takes a while)."""
    from perfdoctor.analysis.analyze import analyze_chunks, chunks_of
    from perfdoctor.analysis.budgets import Measures, load_budgets
    from perfdoctor.analysis.budgets import apply as apply_budgets
    from perfdoctor.store import chunks

    measures = Measures()
    # Budget figures are gathered only when there are budgets to check them against.
    also = [measures] if load_budgets()[0] else []
    loaded: list[Any] = []
    total = _trace_count(path) if feedback.live else None
    with feedback.counting("Reading traces", total) as advance:
        if keep:
            read = store.read_traces(path, each=advance)
            loaded, damage = read.traces, read.damage
            traces = chunks_of(loaded, settings.analysis_chunk_traces)
            analysis = analyze_chunks(traces, settings, store.sampling_counts(path), also)
        else:
            reading = chunks.read(path, settings.analysis_chunk_traces)
            store.merge_spool(path)  # before the sampling counts, as a whole read does
            counts = store.sampling_counts(path)
            analysis = analyze_chunks(_counted(reading.chunks(), advance), settings, counts, also)
            damage = reading.damage
            store.check_read(path, analysis.traces, damage)
    _say_retention(path, analysis.earliest)
    _tell_unstored(path)
    analysis.damage = damage
    apply_budgets(analysis, measures, settings)
    return analysis, loaded


def _trace_count(path: Path) -> int | None:
    try:
        return store.count_traces(path)
    except PerfdoctorError:
        return None  # the read says what is wrong with the store


def _counted(chunks: Iterator[list[Any]], advance: Callable[[int], None]) -> Iterator[list[Any]]:
    for chunk in chunks:
        size = len(chunk)  # analyze_chunks empties a chunk it has read
        yield chunk
        advance(size)


def _say_retention(path: Path, earliest: float | None) -> None:
    """One line on stderr when the store's size cap dropped traces: the report is
    about what was kept."""
    from perfdoctor.store import retention

    note = retention.describe(path, earliest)
    if note:
        click.echo(f"perfdoctor: {note}", err=True)


def _tell_unstored(path: Path) -> None:
    """Traces captured but not in the store: the report must not look complete."""
    unstored = store.unstored(path)
    if unstored.lost:
        click.echo(
            f"perfdoctor: {unstored.lost} captured trace(s) could not be stored and are not "
            f"in this report (last reason: {unstored.reason})",
            err=True,
        )
    if unstored.waiting:
        click.echo(
            f"perfdoctor: {unstored.waiting} trace(s) set aside while {path} was held by "
            "another process are not in this report yet; run the report again once it is free",
            err=True,
        )


@contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    """stdout, or FILE written whole: a failed render leaves no half report behind."""
    if path is None:
        yield sys.stdout
        return
    from perfdoctor.outfile import written

    buffer = io.StringIO()
    yield buffer
    with written(path) as file:
        file.write(buffer.getvalue().encode("utf-8"))


@main.command()
@traces_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--rounds", default=3, show_default=True, help="How many times each endpoint is requested."
)
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default=None)
def audit(traces: str | None, fmt: str, rounds: int, fail_on: str | None) -> None:
    """Run the bundled demo app, drive every endpoint, and report what it finds,
    the index advisor's findings on the demo's own database included."""
    from perfdoctor.analysis.analyze import analyze
    from perfdoctor.demo import default_database
    from perfdoctor.demo.driver import run_demo
    from perfdoctor.demo.next_steps import render_next_steps
    from perfdoctor.progress import Feedback
    from perfdoctor.report import render
    from perfdoctor.settings import Settings

    path = Path(traces) if traces else Path(".perfdoctor") / "demo-traces.db"
    database = default_database().absolute()
    store.clear(path)
    run_demo(path, rounds=rounds, quiet=fmt == "json", database=database)
    feedback = Feedback.for_format(fmt, notes=True)
    read = store.read_traces(path)
    settings = Settings()
    with feedback.working(f"Analysing {len(read.traces)} traces"):
        analysis = analyze(read.traces, settings)
    analysis.damage = read.damage
    _advise_demo(analysis, database, path, settings, feedback)
    render(analysis, fmt, sys.stdout)
    if fmt == "text":
        render_next_steps(sys.stdout)
    sys.exit(EXIT_FOUND if analysis.fails(fail_on) else EXIT_OK)


def _advise_demo(
    analysis: Analysis, database: Path, traces: Path, settings: Settings, feedback: Feedback
) -> None:
    """The index advisor on the demo's SQLite file, as `report --db` would run it on
    the user's: trial indexes are built inside a transaction that is rolled back."""
    from perfdoctor.advisor.findings import DETECTOR_ID, add_to

    # One finding per index: the demo's dozen endpoint and query pairs per index
    # would bury the rest of the report.
    add_to(analysis, f"sqlite:///{database}", traces, settings, feedback, per_index=True)
    found = sum(1 for f in analysis.findings if f.id == DETECTOR_ID)
    if found:
        feedback.done(
            f"Index advisor: {found} index{'' if found == 1 else 'es'} proven on the demo "
            "database, then rolled back"
        )


@main.command()
@click.option(
    "--app",
    "app_refs",
    multiple=True,
    metavar="MODULE:ATTR",
    help="WSGI/ASGI app, called in-process. Twice: before and after, interleaved.",
)
@click.option(
    "--url",
    "urls",
    multiple=True,
    metavar="URL",
    help="Drive a running server over HTTP instead. Twice: before and after, interleaved.",
)
@click.option(
    "--baseline-ref",
    metavar="GIT_REF",
    default=None,
    help="Interleave the --app as it was at GIT_REF (before) with the work tree (after).",
)
@click.option("--endpoint", "endpoints", multiple=True, metavar="'METHOD /path'")
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="Sent with every request (an API token, a session cookie); not saved in the results.",
)
@click.option("--requests", default=100, show_default=True, help="Requests per endpoint.")
@click.option(
    "--rounds",
    default=10,
    show_default=True,
    help="Rounds the requests are split into; compare judges on round medians.",
)
@click.option(
    "--concurrency",
    type=int,
    default=None,
    help="Workers sending requests (default: 1 in-process, where threads share the GIL "
    "and would time each other's waits; 4 over HTTP).",
)
@click.option("--rate", type=float, default=None, help="Fixed arrival rate per endpoint (req/s).")
@click.option("--duration", default="10s", show_default=True, help="Length of a --rate run.")
@click.option("--warmup", default=5, show_default=True, help="Unrecorded requests per endpoint.")
@click.option("--memory", is_flag=True, help="Record peak memory per request (slower).")
@click.option("--output", metavar="FILE", default=None, help="Save the results as JSON.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="How the comparison of two sides is printed (json: also one run's results).",
)
@click.option(
    "--engine",
    type=click.Choice(["builtin", "locust"]),
    default="builtin",
    show_default=True,
    help="locust: Locust's distributed mode (master + --workers), over --url.",
)
@click.option("--workers", default=2, show_default=True, help="Locust workers (--engine locust).")
def bench(
    app_refs: tuple[str, ...],
    urls: tuple[str, ...],
    baseline_ref: str | None,
    endpoints: tuple[str, ...],
    headers: tuple[str, ...],
    requests: int,
    rounds: int,
    concurrency: int | None,
    rate: float | None,
    duration: str,
    warmup: int,
    memory: bool,
    output: str | None,
    fmt: str,
    engine: str,
    workers: int,
) -> None:
    """Drive endpoints at fixed concurrency or a fixed rate and measure them.

    \b
    perfdoctor bench --app app:app --endpoint 'GET /articles' --output run.json
    perfdoctor bench --app old_app:app --app app:app --endpoint 'GET /articles'
    perfdoctor bench --app app:app --baseline-ref origin/main --endpoint 'GET /articles'

    With two sides (two --app, two --url, or --baseline-ref) the rounds of before
    and after alternate in one run, so drift hits both, and the comparison is
    printed: exit 1 on a regression, as `perfdoctor compare`.
    """
    from perfdoctor.bench.command import run_bench
    from perfdoctor.progress import Feedback

    if fmt == "markdown" and not (len(app_refs) == 2 or len(urls) == 2 or baseline_ref):
        raise UsageError("--format markdown prints the comparison of two sides: bench two")
    result = run_bench(
        app_refs=app_refs,
        urls=urls,
        endpoints=endpoints,
        requests=requests,
        concurrency=concurrency if concurrency is not None else (1 if app_refs else 4),
        rate=rate,
        duration=duration,
        warmup=warmup,
        memory=memory,
        output=output,
        stream=sys.stderr if fmt != "text" else sys.stdout,
        engine=engine,
        workers=workers,
        rounds=rounds,
        baseline_ref=baseline_ref,
        headers=headers,
        feedback=Feedback.for_format(fmt),
    )
    if result.get("mode") == "interleaved":
        from perfdoctor.bench.compare import compare_interleaved, show
        from perfdoctor.settings import load_settings

        compared = compare_interleaved(result, load_settings(), path=output or "bench")
        sys.exit(show(compared, fmt, sys.stdout))
    if fmt == "json":
        import json

        click.echo(json.dumps(result, indent=1))


def _existing(paths: tuple[str, ...]) -> tuple[str, ...]:

    for path in paths:
        if not Path(path).exists():
            raise UsageError(f"{path}: no such file or directory")
    return paths


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
)
@click.option("--select", default=None, metavar="CODES", help="Only these codes (comma-separated).")
@click.option("--ignore", default=None, metavar="CODES", help="Skip these codes (comma-separated).")
def lint(paths: tuple[str, ...], fmt: str, select: str | None, ignore: str | None) -> None:
    """Find performance anti-patterns in source code (exit 1 when any is found,
    a file that cannot be parsed included: PD001).

    \b
    perfdoctor lint src/
    perfdoctor lint app/ --format sarif > perfdoctor.sarif
    """
    from perfdoctor.lint import lint_paths as run_lint
    from perfdoctor.lint import load_config
    from perfdoctor.lint.output import render

    first = Path(paths[0]).resolve()
    config = load_config(first if first.is_dir() else first.parent, select, ignore)
    result = run_lint(_existing(paths), config)
    if not result.files:
        from perfdoctor.errors import UsageError

        raise UsageError(f"no Python file to lint in {', '.join(paths)}")
    render(result, fmt, sys.stdout)
    sys.exit(EXIT_FOUND if result.findings else EXIT_OK)


_DB_HELP = (
    "sqlite:///path.db, postgresql://user@host/db, mysql://user@host:3306/db or mariadb://..."
)


@main.command()
@click.option("--db", "db", required=True, metavar="URL", help=_DB_HELP)
@click.option("--query", "statements", multiple=True, metavar="SQL", help="A SELECT to explain.")
@click.option("--traces", "traces", metavar="PATH", default=None, help="Explain stored SELECTs.")
@click.option("--pg-log", metavar="PATH", default=None, help="PostgreSQL slow-query log to read.")
@click.option("--analyze", is_flag=True, help="PostgreSQL: EXPLAIN ANALYZE, read-only, rolled back")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def explain(
    db: str,
    statements: tuple[str, ...],
    traces: str | None,
    pg_log: str | None,
    analyze: bool,
    fmt: str,
) -> None:
    """Show each query's plan (one model for SQLite, PostgreSQL, MySQL) and its problems."""
    from perfdoctor.advisor.commands import gather, run_explain
    from perfdoctor.settings import load_settings

    settings = load_settings()
    path = Path(traces) if traces else None
    queries = gather(db, settings, statements, path, pg_log=Path(pg_log) if pg_log else None)
    run_explain(db, queries, settings, analyze, fmt, sys.stdout)


@main.command()
@click.option("--db", "db", required=True, metavar="URL", help=_DB_HELP)
@click.option("--query", "statements", multiple=True, metavar="SQL", help="A SELECT to tune.")
@click.option("--traces", "traces", metavar="PATH", default=None, help="Tune the store's SELECTs.")
@click.option("--pg-stat-statements", is_flag=True, help="Tune PostgreSQL's top statements.")
@click.option("--pg-log", metavar="PATH", default=None, help="PostgreSQL slow-query log to read.")
@click.option(
    "--no-hypopg", is_flag=True, help="PostgreSQL: try indexes in a rolled-back transaction."
)
@click.option(
    "--allow-locks",
    is_flag=True,
    help="Build trial indexes for real (rolled back) where that locks tables: PostgreSQL "
    "without HypoPG, big SQLite tables. Without it the advisor names the locks and stops.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def indexes(
    db: str,
    statements: tuple[str, ...],
    traces: str | None,
    pg_stat_statements: bool,
    pg_log: str | None,
    no_hypopg: bool,
    allow_locks: bool,
    fmt: str,
) -> None:
    """Propose indexes, each verified to cut its queries' plan cost; report unused ones."""
    from perfdoctor.advisor.commands import gather, run_indexes
    from perfdoctor.settings import load_settings

    settings = load_settings()
    path = Path(traces) if traces else None
    log = Path(pg_log) if pg_log else None
    queries = gather(db, settings, statements, path, pg_stat_statements, log)
    run_indexes(db, queries, settings, not no_hypopg, fmt, sys.stdout, allow_locks=allow_locks)


@main.command()
@click.argument("reports", nargs=-1, required=True, metavar="REPORT.json...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html", "markdown"]),
    default="text",
    show_default=True,
)
@click.option("--output", "-o", metavar="FILE", default=None, help="Write to FILE, not stdout.")
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info"]),
    default=None,
    help="Exit with code 1 when a merged finding of this severity or worse is found.",
)
def merge(reports: tuple[str, ...], fmt: str, output: str | None, fail_on: str | None) -> None:
    """Merge the `perfdoctor report --format json` of each shard into one report.

    Findings merge by fingerprint: the worst example, requests affected summed.
    Endpoints: requests summed, means weighted by requests; p50/p95/p99 are the
    highest shard's, an upper bound on the fleet's (each shard's are kept in json).

    \b
    perfdoctor merge shard-*.json
    perfdoctor merge a.json b.json --format html -o fleet.html
    """
    from perfdoctor.analysis import shards
    from perfdoctor.report import render

    analysis = shards.merge(shards.load(reports))
    with _output(output) as stream:
        render(analysis, fmt, stream)
    if output:
        click.echo(f"perfdoctor: wrote {fmt} report to {output}", err=True)
    sys.exit(EXIT_FOUND if analysis.fails(fail_on) else EXIT_OK)


@main.command()
@click.argument("before", metavar="BEFORE.json")
@click.argument("after", metavar="[AFTER.json]", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option("--confidence", type=float, default=None, help="Interval level (default 0.95).")
@click.option("--resamples", type=int, default=None, help="Bootstrap resamples (default 2000).")
@click.option("--seed", type=int, default=None, help="Random seed, for a reproducible interval.")
@click.option(
    "--pair",
    "pair_texts",
    multiple=True,
    metavar="'BEFORE NAME=AFTER NAME'",
    help="Compare two differently named endpoints (e.g. an endpoint and its fixed twin).",
)
def compare(
    before: str,
    after: str | None,
    fmt: str,
    confidence: float | None,
    resamples: int | None,
    seed: int | None,
    pair_texts: tuple[str, ...],
) -> None:
    """Compare two `perfdoctor bench --output` files, or the two sides of an interleaved
    one (exit 1 on a regression).

    \b
    perfdoctor compare ab.json                      # bench --app A --app B --output ab.json
    perfdoctor compare before.json after.json --seed 1
    perfdoctor compare slow.json fixed.json --pair 'GET /articles=GET /articles/fixed'
    """
    from perfdoctor.bench.compare import run_command
    from perfdoctor.progress import Feedback

    code = run_command(
        before,
        after,
        fmt,
        sys.stdout,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        pair_texts=pair_texts,
        feedback=Feedback.for_format(fmt),
    )
    sys.exit(code)


@main.group("import")
def import_() -> None:
    """Read traces written by other tools into the trace store."""


@import_.command("otlp")
@traces_option
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
def import_otlp(traces: str | None, files: tuple[str, ...]) -> None:
    """Import OpenTelemetry traces: OTLP JSON lines, as the Collector's file exporter
    and opentelemetry-exporter-otlp-json-file write them (.gz too).

    \b
    perfdoctor import otlp traces.jsonl
    perfdoctor report
    """
    from perfdoctor.otlp.command import run_import
    from perfdoctor.progress import Feedback
    from perfdoctor.settings import load_settings

    run_import(files, _traces_path(traces), load_settings(), sys.stdout, Feedback.for_format())


@main.command()
@traces_option
@click.option(
    "--listen",
    default="127.0.0.1:4318",
    show_default=True,
    metavar="HOST:PORT",
    help="Address to receive on (port 0: any free port, printed at start).",
)
@click.option(
    "--grpc",
    default=None,
    metavar="HOST:PORT",
    help="Also receive OTLP/gRPC there, e.g. 127.0.0.1:4317 (needs perfdoctor[collect-grpc]).",
)
@click.option(
    "--sample",
    default=None,
    metavar="RATE",
    help="Keep the traces of this share of requests, drawn by trace id as OpenTelemetry's "
    "TraceIdRatioBased does, and every slow or failed one; reports scale their counts "
    "(default 1: all, or sample_rate in [tool.perfdoctor]).",
)
def collect(traces: str | None, listen: str, grpc: str | None, sample: str | None) -> None:
    """Receive OpenTelemetry traces over OTLP/HTTP (protobuf or JSON, gzip too) from
    SDKs or the Collector into the trace store, until Ctrl-C or SIGTERM; with
    --grpc, over OTLP/gRPC too.

    \b
    perfdoctor collect --listen 127.0.0.1:4318
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 opentelemetry-instrument ...
    perfdoctor collect --grpc 127.0.0.1:4317   # the Collector's otlp exporter, SDKs' gRPC
    perfdoctor collect --sample 0.05           # 5% of traces, and every slow or failed one
    perfdoctor report
    """
    from perfdoctor.collect.server import run
    from perfdoctor.collect.tail import TailRule
    from perfdoctor.settings import load_settings

    settings = load_settings()
    rate = _sample_rate(sample, settings.sample_rate)
    tail = TailRule(rate, *_tail_thresholds(settings)) if rate < 1.0 else None
    sys.exit(run(listen, _traces_path(traces), settings, sys.stdout, grpc=grpc, tail=tail))


@main.command()
@traces_option
@click.option("--window", default="5m", show_default=True, help="How far back each pass looks.")
@click.option("--every", default="30s", show_default=True, help="Time between passes.")
@click.option("--webhook", metavar="URL", default=None, help="Slack-compatible incoming webhook.")
@click.option(
    "--metrics",
    metavar="HOST:PORT",
    default=None,
    help="Serve Prometheus metrics on http://HOST:PORT/metrics (needs perfdoctor[watch]).",
)
@click.option("--once", is_flag=True, help="Judge one window and exit: 1 if anything alerts.")
def watch(
    traces: str | None,
    window: str,
    every: str,
    webhook: str | None,
    metrics: str | None,
    once: bool,
) -> None:
    """Check budgets, slow queries, error rates and new findings over the last
    --window of the store every --every; alert a webhook when a problem starts and
    when it clears, until Ctrl-C or SIGTERM.

    \b
    perfdoctor watch --webhook https://hooks.slack.com/services/... --metrics 127.0.0.1:9464
    perfdoctor watch --once --window 15m      # in cron or CI: exit 1 if anything alerts
    """
    from perfdoctor.analysis.budgets import load_budgets
    from perfdoctor.settings import load_settings
    from perfdoctor.watch.command import Options, run

    options = Options(_traces_path(traces), window, every, webhook, metrics, once)
    sys.exit(run(options, load_settings(), load_budgets()[0], sys.stdout, sys.stderr))


@main.group("export")
def export() -> None:
    """Write the trace store in a format other tools read."""


@export.command("otlp")
@traces_option
@click.option("--output", "-o", metavar="FILE", default=None, help="Write to FILE (.gz: gzipped).")
def export_otlp(traces: str | None, output: str | None) -> None:
    """Write the stored traces as OTLP JSON lines (one ExportTraceServiceRequest a line)."""
    from perfdoctor.otlp.command import run_export

    count = run_export(_traces_path(traces), output, sys.stdout)
    if output:
        click.echo(f"perfdoctor: wrote {count} traces as OTLP JSON to {output}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()

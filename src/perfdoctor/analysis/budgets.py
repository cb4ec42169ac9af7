"""Per-endpoint budgets from ``[tool.perfdoctor.budgets]``, checked by ``perfdoctor report``.

::

    [tool.perfdoctor.budgets]
    default = { p95_ms = 300 }
    "GET /articles" = { p95_ms = 200, max_queries = 10, max_memory_mb = 50 }
    jobs = { p95_ms = 10000 }
    "task app.tasks.send_digest" = { max_queries = 20 }

An endpoint's budget is its own table over ``default``; a queued task's (a
trace of kind ``job``, named ``task <name>``) is its own table over ``jobs``.  A limit set in either
is checked, and a broken one is a ``budget-exceeded`` finding (an error).  A
limit set in neither is the seed's figure, which perfdoctor's detectors already
enforce under their own ids (``slow-endpoint`` for the 500 ms p95, 30 s for a task,
``slow-query`` for the 100 ms query p95, ``high-memory`` for 100 MB per
request): the budget table shows it, and no second finding repeats theirs.
The figures come from :class:`perfdoctor.settings.Settings`, so a changed
``slow_endpoint_p95_ms`` (``slow_job_p95_ms``) changes the default budget too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfdoctor import _toml
from perfdoctor.analysis import sampling, timing
from perfdoctor.analysis.stats import SampledQuantiles
from perfdoctor.errors import ConfigError
from perfdoctor.model import JOB_KIND, SERVER_KIND, Finding, Location, Trace
from perfdoctor.settings import Settings, find_pyproject

if TYPE_CHECKING:
    from perfdoctor.analysis.analyze import Analysis

FINDING_ID = "budget-exceeded"
DEFAULT_KEY = "default"
# The default of queued tasks: a task runs for seconds where a request has milliseconds.
JOBS_KEY = "jobs"
# limit -> (label, unit): what each limit measures, per endpoint.
LIMITS = {
    "p95_ms": ("p95 latency", "ms"),
    "max_queries": ("queries per request (max)", "queries"),
    "max_memory_mb": ("memory per request (max)", "MB"),
    "query_p95_ms": ("query p95", "ms"),
}
FIXES = {
    "p95_ms": (
        "See this endpoint's other findings and its db/http/cache/python split for where "
        "the time goes; fix the largest share first (queries, outbound calls, own code)."
    ),
    "max_queries": (
        "Load related rows with the list (select_related/prefetch_related, joinedload/"
        "selectinload, or one WHERE key IN (...) query) and drop repeated lookups: see "
        "the n-plus-one-query and duplicate-query findings for this endpoint."
    ),
    "max_memory_mb": (
        "Stream or paginate what the request loads instead of building it in memory "
        "(the ORM's .iterator() / yield_per, a streaming response); run with --memory "
        "to see the allocation sites."
    ),
    "query_p95_ms": (
        "Index what the slowest statements filter and sort on and fetch fewer rows: "
        "`perfdoctor indexes --db URL --traces PATH` proposes verified indexes."
    ),
}


@dataclass(frozen=True)
class Budget:
    """The limits in effect for one endpoint; ``explicit`` names those the user set."""

    limits: dict[str, float]
    explicit: frozenset[str] = frozenset()


@dataclass
class Budgets:
    default: dict[str, float] = field(default_factory=dict)
    endpoints: dict[str, dict[str, float]] = field(default_factory=dict)
    jobs: dict[str, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.default or self.endpoints or self.jobs)

    def for_endpoint(self, name: str, settings: Settings, job: bool = False) -> Budget:
        """``job``: the endpoint is a queued task (its default is ``jobs``, not ``default``)."""
        given = {**(self.jobs if job else self.default), **self.endpoints.get(name, {})}
        seed = {
            "p95_ms": settings.slow_job_p95_ms if job else settings.slow_endpoint_p95_ms,
            "query_p95_ms": settings.slow_query_p95_ms,
            "max_memory_mb": settings.high_memory_error_kb / 1024,
        }
        return Budget({**seed, **given}, frozenset(given))


def parse(table: Any, source: str = "[tool.perfdoctor.budgets]") -> Budgets:
    """Budgets from the parsed TOML table; anything malformed is one ConfigError line."""
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [tool.perfdoctor.budgets] must be a table, got {table!r}")
    budgets = Budgets()
    for endpoint, limits in table.items():
        if not isinstance(limits, dict):
            raise ConfigError(
                f"{source}: budget {endpoint!r} must be a table such as "
                f"{{ p95_ms = 200, max_queries = 10 }}, got {limits!r}"
            )
        parsed: dict[str, float] = {}
        for key, value in limits.items():
            if key not in LIMITS:
                raise ConfigError(
                    f"{source}: unknown limit {key!r} in budget {endpoint!r}; "
                    f"known limits: {', '.join(LIMITS)}"
                )
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(
                    f"{source}: {key} in budget {endpoint!r} must be a number >= 0, got {value!r}"
                )
            parsed[key] = float(value)
        if endpoint == DEFAULT_KEY:
            budgets.default = parsed
        elif endpoint == JOBS_KEY:
            budgets.jobs = parsed
        else:
            budgets.endpoints[str(endpoint)] = parsed
    return budgets


def load_budgets(pyproject: Path | None = None) -> tuple[Budgets, str | None]:
    """The budgets of the nearest pyproject.toml, and its path (None: no file)."""
    path = pyproject or find_pyproject()
    if path is None:
        return Budgets(), None
    try:
        data = _toml.loads(path.read_text(encoding="utf-8"))
    except (OSError, _toml.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    table = data.get("tool", {}).get("perfdoctor", {}).get("budgets")
    if table is None:
        return Budgets(), str(path)
    return parse(table, source=str(path)), str(path)


@dataclass
class BudgetRow:
    """One endpoint and limit: the budget, what was measured, and whether it held."""

    endpoint: str
    limit: str
    budget: float
    measured: float | None
    explicit: bool

    @property
    def broken(self) -> bool:
        return self.measured is not None and self.measured > self.budget

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "limit": self.limit,
            "budget": self.budget,
            "measured": self.measured,
            "explicit": self.explicit,
            "broken": self.broken,
        }


class Measure:
    """One endpoint's figures for its budget, gathered trace by trace (bounded
    values: a store is analysed chunk by chunk, its traces not kept)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.queries: int | None = None
        exact = Settings.exact_percentile_values
        self.durations = SampledQuantiles(exact)
        self.peak: float | None = None
        self.latencies = SampledQuantiles(exact)
        self.handler: Location | None = None

    def add(self, trace: Trace) -> None:
        queries = 0
        # A query of a sampled request counts for the requests it stands for, as
        # the request's latency does below.
        weight = sampling.weight(trace)
        for span in trace.spans:
            if span.kind == "db":
                queries += 1
                self.durations.add(span.duration_ms, weight)
        self.queries = queries if self.queries is None else max(self.queries, queries)
        memory = trace.attrs.get("memory")
        if isinstance(memory, dict) and isinstance(memory.get("peak_kb"), (int, float)):
            peak = float(memory["peak_kb"])
            self.peak = peak if self.peak is None else max(self.peak, peak)
        self.latencies.add(timing.latency_ms(trace), weight)
        if self.handler is None:
            from perfdoctor.detectors._responses import handler

            self.handler = handler([trace])

    def result(self) -> dict[str, float | None]:
        """Each limit's measured value over the endpoint's requests (None: not captured)."""
        latencies, durations = self.latencies, self.durations
        # A sampled run kept every slow request but a share of the rest: weighted,
        # the p95 estimates all requests' rather than the kept ones'.
        p95 = latencies.percentile(95)
        return {
            "p95_ms": round(p95, 2),
            "max_queries": float(self.queries) if self.queries is not None else 0.0,
            # Peak memory is captured with `perfdoctor run --memory` only.
            "max_memory_mb": round(self.peak / 1024, 2) if self.peak is not None else None,
            "query_p95_ms": round(durations.percentile(95), 2) if durations else None,
        }


class Measures:
    """Every endpoint's :class:`Measure`; a server's own work is no endpoint."""

    def __init__(self) -> None:
        self.endpoints: dict[str, Measure] = {}

    def feed(self, traces: Iterable[Trace]) -> None:
        for trace in traces:
            if trace.kind == SERVER_KIND:
                continue
            measure = self.endpoints.get(trace.name)
            if measure is None:
                measure = self.endpoints[trace.name] = Measure(trace.kind)
            measure.add(trace)


def measure(group: Sequence[Trace]) -> dict[str, float | None]:
    """Each limit's measured value over an endpoint's requests (None: not captured)."""
    found = Measure(group[0].kind if group else "")
    for trace in group:
        found.add(trace)
    return found.result()


def check(
    traces: Sequence[Trace] | Measures, budgets: Budgets, settings: Settings
) -> tuple[list[BudgetRow], list[Finding]]:
    """The budget table (every endpoint with a budget set) and the broken budgets."""
    if not budgets:
        return [], []
    if isinstance(traces, Measures):
        measures = traces
    else:
        measures = Measures()
        measures.feed(traces)
    rows: list[BudgetRow] = []
    findings: list[Finding] = []
    for name in sorted(measures.endpoints):
        endpoint = measures.endpoints[name]
        budget = budgets.for_endpoint(name, settings, endpoint.kind == JOB_KIND)
        if not budget.explicit:
            continue
        measured = endpoint.result()
        for limit in LIMITS:
            if limit not in budget.limits:
                continue
            row = BudgetRow(
                name, limit, budget.limits[limit], measured[limit], limit in budget.explicit
            )
            rows.append(row)
            if row.broken and row.explicit:
                findings.append(_finding(row, endpoint))
    return rows, findings


def _finding(row: BudgetRow, endpoint: Measure) -> Finding:
    from perfdoctor.detectors.base import finding_fingerprint

    label, unit = LIMITS[row.limit]
    return Finding(
        id=FINDING_ID,
        severity="error",
        title=(
            f"{row.endpoint} is over its budget: {label} {_num(row.measured)} {unit}, "
            f"budget {_num(row.budget)} {unit}"
        ),
        endpoint=row.endpoint,
        location=_handler(endpoint.handler),
        evidence={
            "endpoint": row.endpoint,
            "limit": row.limit,
            "budget": row.budget,
            "measured": row.measured,
            "requests": endpoint.latencies.estimated_count(),
        },
        fix=FIXES[row.limit],
        fingerprint=finding_fingerprint(FINDING_ID, row.endpoint, row.limit),
    )


def _handler(found: Location | None) -> Location | None:
    """The view that answered, as findings show it (relative to the working directory)."""
    from perfdoctor.callsite import display_path

    return None if found is None else Location(display_path(found.path), found.line, found.function)


def apply(analysis: Analysis, traces: Sequence[Trace] | Measures, settings: Settings) -> None:
    """Check the nearest pyproject.toml's budgets: the table goes on ``analysis.budgets``,
    broken budgets join its findings (and so ``--fail-on``).  ``traces``: the traces,
    or the :class:`Measures` gathered while they were analysed."""
    from perfdoctor.analysis.analyze import impact_ms
    from perfdoctor.model import SEVERITY_RANK

    budgets, _ = load_budgets()
    rows, findings = check(traces, budgets, settings)
    analysis.budgets = rows
    if findings:
        analysis.findings.extend(findings)
        analysis.findings.sort(
            key=lambda f: (-SEVERITY_RANK[f.severity], -impact_ms(f), f.id, f.endpoint or "")
        )


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value == int(value) or value >= 100 else f"{value:.1f}"

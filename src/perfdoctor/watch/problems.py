"""What a window of traces shows that someone should hear about.

A :class:`Problem` has a stable ``key``: the same problem seen in the next window
has the same key, so it alerts once while it lasts (:mod:`perfdoctor.watch.alerts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from perfdoctor.analysis import budgets as budget_rules
from perfdoctor.analysis import sampling
from perfdoctor.analysis.analyze import Analysis, analyze
from perfdoctor.model import SEVERITY_RANK, Finding, Trace, by_endpoint
from perfdoctor.settings import Settings

# Findings that have a kind of problem of their own, rather than "new finding".
_OWN_KINDS = {"slow-query": "slow-query", budget_rules.FINDING_ID: "budget"}


@dataclass(frozen=True)
class Problem:
    key: str
    kind: str  # budget, slow-query, error-rate, new-finding
    endpoint: str | None
    title: str


@dataclass
class Evaluation:
    """One window judged: its problems, and what the next window is compared with."""

    problems: list[Problem]
    analysis: Analysis
    fingerprints: set[str] = field(default_factory=set)
    error_rates: dict[str, Rate] = field(default_factory=dict)


def evaluate(
    traces: Sequence[Trace],
    budgets: budget_rules.Budgets,
    settings: Settings,
    previous: set[str] | None,
    ongoing: set[str],
) -> Evaluation:
    """``previous``: the fingerprints of the findings seen so far (None while there
    is no baseline, when no finding is new); ``ongoing``: the keys of problems
    still alerting, so a new finding stays a problem while it is in the window."""
    analysis = analyze(traces, settings)
    _, broken = budget_rules.check(traces, budgets, settings)
    problems = [_from_finding(f, _OWN_KINDS[f.id]) for f in broken]
    fingerprints = {f.fingerprint for f in analysis.findings}
    floor = SEVERITY_RANK[settings.watch_new_finding_min_severity]
    for finding in analysis.findings:
        kind = _OWN_KINDS.get(finding.id)
        if kind is not None:
            problems.append(_from_finding(finding, kind))
            continue
        if SEVERITY_RANK[finding.severity] < floor:
            continue
        problem = _from_finding(finding, "new-finding")
        if problem.key in ongoing or (previous is not None and finding.fingerprint not in previous):
            problems.append(problem)
    rates = error_rates(traces)
    problems.extend(_error_rate_problems(rates, settings))
    return Evaluation(problems, analysis, fingerprints, rates)


def _from_finding(finding: Finding, kind: str) -> Problem:
    title = finding.title
    if finding.endpoint and finding.endpoint not in title:
        title = f"{finding.endpoint}: {title}"
    key = f"{kind}:{finding.fingerprint}"
    return Problem(key, kind, finding.endpoint, f"{title} [{finding.id}]")


class Rate(NamedTuple):
    """An endpoint's 5xx responses and requests in the window; ``estimated`` when
    sampled traces stand for requests the draw left out."""

    errors: int
    requests: int
    estimated: bool


def error_rates(traces: Sequence[Trace]) -> dict[str, Rate]:
    """Per endpoint, its :class:`Rate` in the window.  A sampled run kept every
    failed request and a share of the others: each trace counts for the requests
    it stands for (:func:`perfdoctor.analysis.sampling.weight`), else a 5xx in a
    thousand requests would read as one in fifty."""
    rates = {}
    for name, group in by_endpoint(traces).items():
        errors = requests = 0.0
        for trace in group:
            weight = sampling.weight(trace)
            requests += weight
            if (trace.status or 0) >= 500:
                errors += weight
        rates[name] = Rate(round(errors), round(requests), requests != len(group))
    return rates


def _error_rate_problems(rates: dict[str, Rate], settings: Settings) -> list[Problem]:
    found = []
    for name, (errors, requests, estimated) in sorted(rates.items()):
        if requests < settings.watch_error_min_requests or not errors:
            continue
        share = errors / requests
        if share >= settings.watch_error_rate:
            about = "~" if estimated else ""
            found.append(
                Problem(
                    f"error-rate:{name}",
                    "error-rate",
                    name,
                    f"{name} answered 5xx to {errors} of {about}{requests} requests "
                    f"({share:.0%}; alert from {settings.watch_error_rate:.0%})",
                )
            )
    return found

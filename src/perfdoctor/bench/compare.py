"""``perfdoctor compare``: two ``perfdoctor bench`` results (or one interleaved one), a
verdict per endpoint.

Latency is judged on round-level statistics (:mod:`perfdoctor.bench.verdict`),
which tell drift from change; the per-request bootstrap interval of the median
and of the p95 (:mod:`perfdoctor.bench.bootstrap`) is shown beside it, as the
noise inside the runs. Exact counts per request (queries, rows, response bytes)
are compared as they are: the same code on the same data gives the same counts,
so a change in them needs no statistics.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

from perfdoctor.bench.bootstrap import Change, bootstrap_change
from perfdoctor.bench.verdict import (
    INTERLEAVED,
    ROUNDS,
    SLOWER,
    TOO_FEW,
    Latency,
    from_interval,
    judge,
    paired,
    round_medians,
    spread_pct,
    welch,
)
from perfdoctor.errors import UsageError
from perfdoctor.progress import SILENT, Feedback
from perfdoctor.settings import Settings, load_settings

FORMAT_VERSION = 1
# Bench result versions this perfdoctor reads (1: no rounds, 2: rounds).
BENCH_VERSIONS = (1, 2)
COUNTERS = ("queries", "rows", "bytes")


class CompareInputError(UsageError):
    """A compare input is missing, not JSON, or not a ``perfdoctor bench`` result."""


@dataclass(frozen=True)
class CounterChange:
    """An exact count per request (median over the requests) before and after."""

    name: str
    before: float | None
    after: float | None
    varies: bool  # not the same on every request of a side
    exact: bool = True  # counted per request (format 1 results carry a mean of queries)

    @property
    def changed(self) -> bool:
        return self.before is not None and self.after is not None and self.before != self.after


@dataclass(frozen=True)
class EndpointChange:
    name: str
    verdict: str
    samples: tuple[int, int]
    errors: tuple[int, int]
    median: Change | None
    p95: Change | None
    queries: tuple[float | None, float | None]
    memory_kb: tuple[float | None, float | None]
    latency: Latency | None = None
    counters: tuple[CounterChange, ...] = ()
    cpu_ms: tuple[float | None, float | None] = (None, None)
    # Set when --pair matched this endpoint to a differently named one in AFTER.
    after_name: str | None = None

    @property
    def error_rate(self) -> tuple[float, float]:
        """Share of failed requests (5xx or no answer) before and after."""
        return (
            self.errors[0] / self.samples[0] if self.samples[0] else 0.0,
            self.errors[1] / self.samples[1] if self.samples[1] else 0.0,
        )

    def counter(self, name: str) -> CounterChange | None:
        return next((c for c in self.counters if c.name == name), None)


@dataclass
class Comparison:
    before_path: str
    after_path: str
    confidence: float
    resamples: int
    seed: int
    min_change_pct: float
    method: str = ROUNDS
    machine: dict[str, Any] = field(default_factory=dict)
    endpoints: list[EndpointChange] = field(default_factory=list)
    only_before: list[str] = field(default_factory=list)
    only_after: list[str] = field(default_factory=list)
    appeared: list[dict[str, Any]] = field(default_factory=list)
    disappeared: list[dict[str, Any]] = field(default_factory=list)

    @property
    def regressions(self) -> list[str]:
        """Why this comparison is a regression (empty when it is not)."""
        reasons = []
        for change in self.endpoints:
            if change.verdict == SLOWER:
                reasons.append(f"{change.name} slower")
            if change.error_rate[1] > change.error_rate[0]:
                reasons.append(
                    f"{change.name} errors {change.errors[0]} → {change.errors[1]} "
                    f"of {change.samples[0]} → {change.samples[1]} requests"
                )
            queries = change.counter("queries")
            if queries is not None and queries.changed and queries.after > queries.before:  # type: ignore[operator]
                reasons.append(
                    f"{change.name} {_count(queries.before)} → {_count(queries.after)} "
                    "queries per request"
                )
        reasons += [
            f"new error finding {f['id']} on {f['endpoint']}"
            for f in self.appeared
            if f.get("severity") == "error"
        ]
        return reasons


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


# --- input ---


def load_result(path: str) -> dict[str, Any]:
    """A ``perfdoctor bench --output`` file, checked; CompareInputError otherwise."""
    data = _read_json(path, "a `perfdoctor bench --output` file")
    if isinstance(data, dict) and data.get("mode") == "interleaved":
        for side in ("before", "after"):
            _check_shape(f"{path} ({side})", data.get(side))
    else:
        _check_shape(path, data)
    return cast(dict[str, Any], data)


def load_comparison(path: str) -> dict[str, Any]:
    """A ``perfdoctor compare --format json`` result, for the before/after of a report."""
    data = _read_json(path, "a `perfdoctor compare --format json` result")
    if not isinstance(data, dict) or data.get("tool") != "perfdoctor compare":
        raise CompareInputError(
            f'{path}: not a `perfdoctor compare --format json` result (no "tool": '
            '"perfdoctor compare")'
        )
    version = data.get("version")
    if version != FORMAT_VERSION or not isinstance(data.get("endpoints"), list):
        raise CompareInputError(
            f"{path}: compare result version {version!r} is not {FORMAT_VERSION}, or has no "
            "`endpoints` list; rerun `perfdoctor compare --format json` with this perfdoctor"
        )
    return data


def _read_json(path: str, what: str) -> Any:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CompareInputError(f"{path}: no such file (pass {what})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareInputError(f"{path}: cannot read: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CompareInputError(
            f"{path}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from exc


def _check_shape(path: str, data: Any) -> None:
    def bad(why: str) -> CompareInputError:
        return CompareInputError(f"{path}: not a `perfdoctor bench --output` result: {why}")

    if not isinstance(data, dict):
        raise bad(f"the top level is a JSON {type(data).__name__}, not an object")
    version = data.get("version")
    newest = BENCH_VERSIONS[-1]
    if isinstance(version, int) and not isinstance(version, bool) and version > newest:
        raise CompareInputError(
            f"{path}: written by a newer perfdoctor (format version {version}); upgrade perfdoctor"
        )
    if version not in BENCH_VERSIONS:
        raise bad(f"version is {version!r}, expected one of {', '.join(map(str, BENCH_VERSIONS))}")
    endpoints = data.get("endpoints")
    if isinstance(endpoints, list):
        raise bad("`endpoints` is a list (a `perfdoctor report` JSON?); run `perfdoctor bench`")
    if not isinstance(endpoints, dict):
        raise bad("no `endpoints` object")
    for name, entry in endpoints.items():
        if not isinstance(entry, dict):
            raise bad(f"endpoint {name!r} is not an object")
        samples = entry.get("latencies_ms")
        if not isinstance(samples, list) or not all(_is_number(v) for v in samples):
            raise bad(f"endpoint {name!r} has no `latencies_ms` list of numbers")
        for key in ("queries_per_request", "memory_peak_kb", "requests", "errors"):
            if entry.get(key) is not None and not _is_number(entry[key]):
                raise bad(f"endpoint {name!r}: `{key}` is not a number")
        sizes = entry.get("round_sizes")
        if sizes is not None and (
            not isinstance(sizes, list)
            or not all(isinstance(v, int) and v >= 0 for v in sizes)
            or sum(sizes) != len(samples)
        ):
            raise bad(f"endpoint {name!r}: `round_sizes` does not add up to its samples")
    findings = data.get("findings", [])
    if not isinstance(findings, list) or not all(
        isinstance(f, dict) and isinstance(f.get("id"), str) for f in findings
    ):
        raise bad("`findings` is not a list of findings with an `id`")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --- comparing ---


def run_command(
    before: str,
    after: str | None,
    fmt: str,
    stream: TextIO,
    *,
    confidence: float | None,
    resamples: int | None,
    seed: int | None,
    pair_texts: tuple[str, ...],
    feedback: Feedback = SILENT,
) -> int:
    """``perfdoctor compare``: prints the comparison, returns the exit code."""
    pairs: dict[str, str] = {}
    for text in pair_texts:
        b_name, sep, a_name = (part.strip() for part in text.partition("="))
        if not sep or not b_name or not a_name:
            raise UsageError(f"bad --pair {text!r}: expected 'GET /articles=GET /articles/fixed'")
        pairs[b_name] = a_name
    first = load_result(before)
    options: dict[str, Any] = {
        "confidence": confidence,
        "resamples": resamples,
        "seed": seed,
        "pairs": pairs,
        "progress": feedback,
    }
    if after is None:
        if first.get("mode") != "interleaved":
            raise UsageError(
                f"{before} is one run: give the run to compare it with, "
                "or bench both sides interleaved (bench --app BEFORE --app AFTER)"
            )
        result = compare_interleaved(first, load_settings(), path=before, **options)
    else:
        second = load_result(after)
        if "interleaved" in (first.get("mode"), second.get("mode")):
            raise UsageError("an interleaved result holds both sides: compare it on its own")
        result = compare(
            first, second, load_settings(), before_path=before, after_path=after, **options
        )
    return show(result, fmt, stream)


def show(result: Comparison, fmt: str, stream: TextIO) -> int:
    """Prints ``result`` as text, JSON or Markdown; returns the exit code."""
    from perfdoctor.bench.compare_json import to_json

    if fmt == "json":
        stream.write(json.dumps(to_json(result), indent=2) + "\n")
    elif fmt == "markdown":
        from perfdoctor.report.markdown import before_after

        stream.write("\n".join(before_after(to_json(result))) + "\n")
    else:
        from perfdoctor.bench.compare_text import render_text

        render_text(result, stream)
    return 1 if result.regressions else 0


def compare_interleaved(
    data: dict[str, Any], settings: Settings, *, path: str = "RESULT", **options: Any
) -> Comparison:
    """Compare the two sides of one interleaved ``bench`` result."""
    return compare(
        data["before"],
        data["after"],
        settings,
        before_path=f"{path} (before)",
        after_path=f"{path} (after)",
        interleaved=True,
        **options,
    )


def compare(
    before: dict[str, Any],
    after: dict[str, Any],
    settings: Settings,
    *,
    before_path: str = "BEFORE",
    after_path: str = "AFTER",
    confidence: float | None = None,
    resamples: int | None = None,
    seed: int | None = None,
    pairs: dict[str, str] | None = None,
    interleaved: bool = False,
    progress: Feedback = SILENT,
) -> Comparison:
    """Compare two loaded bench results (see :func:`load_result`).

    ``pairs`` maps a BEFORE endpoint to a differently named AFTER one (an endpoint
    and its fixed twin); other endpoints are matched by name. ``interleaved``: the
    two sides' rounds alternated in one run (round k of each in the k-th pair).
    """
    confidence = settings.compare_confidence if confidence is None else confidence
    resamples = settings.compare_resamples if resamples is None else resamples
    if not 0.0 < confidence < 1.0:
        raise UsageError(f"--confidence must be between 0 and 1 (got {confidence}); e.g. 0.95")
    if resamples < 100:
        raise UsageError(f"--resamples must be at least 100 (got {resamples}); e.g. 2000")
    if seed is None:
        # Still reproducible: the seed drawn here is printed with the result.
        seed = random.SystemRandom().randrange(2**32)
    result = Comparison(
        before_path, after_path, confidence, resamples, seed, settings.compare_min_change_pct
    )
    result.machine = {"before": _machine(before), "after": _machine(after)}
    drift, note = _drift(result.machine, settings, interleaved)
    b_endpoints: dict[str, Any] = before["endpoints"]
    a_endpoints: dict[str, Any] = after["endpoints"]
    matched = match_endpoints(b_endpoints, a_endpoints, pairs or {})
    result.only_before = sorted(set(b_endpoints) - {b for b, _ in matched})
    result.only_after = sorted(set(a_endpoints) - {a for _, a in matched})
    # Two bootstraps of thousands of resamples per endpoint: a while for many endpoints.
    for b_name, a_name in progress.iterate(matched, "Comparing endpoints", len(matched)):
        # One generator per endpoint, from the seed and the name: adding an endpoint
        # to a run does not change another endpoint's interval.
        rng = random.Random(f"{seed}:{b_name}")
        change = _endpoint(
            b_name,
            b_endpoints[b_name],
            a_endpoints[a_name],
            settings,
            result,
            rng,
            interleaved=interleaved,
            drift=(drift, note),
        )
        result.endpoints.append(dataclasses.replace(change, after_name=a_name))
    methods = {c.latency.method for c in result.endpoints if c.latency is not None}
    result.method = methods.pop() if len(methods) == 1 else (INTERLEAVED if interleaved else ROUNDS)
    # A finding of a paired AFTER endpoint is matched as if on its BEFORE twin.
    renamed = {a: b for b, a in (pairs or {}).items()}
    result.appeared, result.disappeared = _finding_changes(
        before.get("findings", []), after.get("findings", []), renamed
    )
    return result


def _machine(document: dict[str, Any]) -> dict[str, Any]:
    """How busy the machine was during a run: medians over its rounds of the CPU pressure
    and of the CPUs' time taken by other processes, and the highest load average."""
    machine = document.get("machine")
    if not isinstance(machine, dict):
        return {}

    def listed(key: str) -> list[Any]:
        values = machine.get(key)
        return values if isinstance(values, list) else []

    def median(key: str) -> float | None:
        values = [v for v in listed(key) if _is_number(v)]
        return round(statistics.median(values), 1) if values else None

    loads = [v for v in listed("load1") if _is_number(v)]
    canary = [v for v in listed("canary_ms") if _is_number(v) and v > 0]
    return {
        "cpus": machine.get("cpus"),
        "cpu_pressure_pct": median("cpu_pressure_pct"),
        "other_cpu_pct": median("other_cpu_pct"),
        # The geometric mean: a run slow for a third of its rounds shows a third of it.
        "canary_ms": round(statistics.geometric_mean(canary), 4) if canary else None,
        "load1": max(loads) if loads else None,
    }


def _drift(
    machine: dict[str, Any], settings: Settings, interleaved: bool
) -> tuple[float, str | None]:
    """The allowance for drift between two runs, and why it is what it is."""
    if interleaved:
        return 0.0, None
    before, after = machine["before"], machine["after"]
    other = (before.get("other_cpu_pct"), after.get("other_cpu_pct"))
    if any(v is not None and v >= settings.compare_other_work_pct for v in other):
        shown = ", ".join(
            f"{v:.0f}% {side}" for v, side in zip(other, ("before", "after")) if v is not None
        )
        return settings.compare_busy_drift_pct, (
            f"other processes kept the machine busy (their share of the CPU time: {shown}); "
            "bench both sides interleaved"
        )
    canary = (before.get("canary_ms"), after.get("canary_ms"))
    if canary[0] and canary[1]:
        speed = abs(canary[1] / canary[0] - 1.0) * 100.0
        if speed >= settings.compare_speed_mismatch_pct:
            return settings.compare_busy_drift_pct, (
                f"the machine ran at another speed (a fixed piece of work took "
                f"{canary[0]:.2f} ms before, {canary[1]:.2f} ms after); bench both sides "
                "interleaved"
            )
    pressure = (before.get("cpu_pressure_pct"), after.get("cpu_pressure_pct"))
    if (
        pressure[0] is not None
        and pressure[1] is not None
        and abs(pressure[1] - pressure[0]) >= settings.compare_pressure_mismatch_pct
    ):
        busier = "after" if pressure[1] > pressure[0] else "before"
        return settings.compare_busy_drift_pct, (
            f"the machine was busier during the {busier} run (CPU pressure "
            f"{pressure[0]:.0f}% before, {pressure[1]:.0f}% after); bench both sides interleaved"
        )
    return settings.compare_run_drift_pct, None


def match_endpoints(
    before: dict[str, Any], after: dict[str, Any], pairs: dict[str, str]
) -> list[tuple[str, str]]:
    """(BEFORE name, AFTER name) to compare: the explicit pairs, then same names."""
    for b_name, a_name in pairs.items():
        for name, side, names in ((b_name, "BEFORE", before), (a_name, "AFTER", after)):
            if name not in names:
                known = ", ".join(sorted(names)) or "none"
                raise UsageError(f"--pair: no endpoint {name!r} in {side} (it has: {known})")
    paired_after = set(pairs.values())
    same = [
        (name, name)
        for name in sorted(set(before) & set(after))
        if name not in pairs and name not in paired_after
    ]
    return sorted(pairs.items()) + same


def _endpoint(
    name: str,
    before: dict[str, Any],
    after: dict[str, Any],
    settings: Settings,
    result: Comparison,
    rng: random.Random,
    *,
    interleaved: bool,
    drift: tuple[float, str | None],
) -> EndpointChange:
    b_samples = [float(v) for v in before["latencies_ms"]]
    a_samples = [float(v) for v in after["latencies_ms"]]
    enough = min(len(b_samples), len(a_samples)) >= max(1, settings.compare_min_samples)
    median = p95 = latency = None
    if enough:
        kwargs: dict[str, Any] = {
            "resamples": result.resamples,
            "confidence": result.confidence,
            "rng": rng,
        }
        median = bootstrap_change(b_samples, a_samples, 50.0, **kwargs)
        p95 = bootstrap_change(b_samples, a_samples, 95.0, **kwargs)
        latency = _latency(before, after, median, settings, result, interleaved, drift)
    return EndpointChange(
        name=name,
        verdict=latency.verdict if latency is not None else TOO_FEW,
        samples=(len(b_samples), len(a_samples)),
        errors=(int(before.get("errors") or 0), int(after.get("errors") or 0)),
        median=median,
        p95=p95,
        queries=(before.get("queries_per_request"), after.get("queries_per_request")),
        memory_kb=(before.get("memory_peak_kb"), after.get("memory_peak_kb")),
        latency=latency,
        counters=_counters(before, after),
        cpu_ms=(before.get("cpu_ms_p50"), after.get("cpu_ms_p50")),
    )


def _latency(
    before: dict[str, Any],
    after: dict[str, Any],
    median: Change,
    settings: Settings,
    result: Comparison,
    interleaved: bool,
    drift: tuple[float, str | None],
) -> Latency | None:
    b_rounds = _rounds(before)
    a_rounds = _rounds(after)
    spread = (spread_pct(b_rounds), spread_pct(a_rounds))
    units = (len(b_rounds), len(a_rounds))
    allowance, note = drift
    method, estimate = ROUNDS, None
    if interleaved:
        method, estimate = INTERLEAVED, paired(b_rounds, a_rounds)
    if estimate is None:
        method, estimate = ROUNDS, welch(b_rounds, a_rounds)
    if estimate is not None:
        return judge(
            method,
            estimate,
            confidence=result.confidence,
            drift_pct=allowance,
            min_change_pct=result.min_change_pct,
            units=units,
            spread=spread,
            note=note,
        )
    if median.ratio is None or median.ratio <= 0 or median.ratio_low is None:
        return None
    assert median.ratio_high is not None
    return from_interval(
        median.ratio,
        max(median.ratio_low, 1e-9),
        median.ratio_high,
        drift_pct=allowance,
        min_change_pct=result.min_change_pct,
        units=(len(before["latencies_ms"]), len(after["latencies_ms"])),
    )


def _rounds(entry: dict[str, Any]) -> list[float]:
    sizes = entry.get("round_sizes")
    if not isinstance(sizes, list) or len(sizes) < 2:
        return []
    return round_medians([float(v) for v in entry["latencies_ms"]], sizes)


def _counters(before: dict[str, Any], after: dict[str, Any]) -> tuple[CounterChange, ...]:
    changes = []
    for name in COUNTERS:
        b = _median_count(before, name)
        a = _median_count(after, name)
        if b is None and a is None:
            continue
        exact = _per_request(before, name) is not None and _per_request(after, name) is not None
        varies = _varies(before, name) or _varies(after, name)
        changes.append(CounterChange(name, b, a, varies, exact))
    return tuple(changes)


def _per_request(entry: dict[str, Any], name: str) -> dict[str, Any] | None:
    per_request = entry.get("per_request")
    counts = per_request.get(name) if isinstance(per_request, dict) else None
    return counts if isinstance(counts, dict) else None


def _median_count(entry: dict[str, Any], name: str) -> float | None:
    counts = _per_request(entry, name)
    if counts is not None and _is_number(counts.get("median")):
        return float(counts["median"])
    if name == "queries" and _is_number(entry.get("queries_per_request")):
        # Results without exact counts (format 1) carry the mean.
        return float(entry["queries_per_request"])
    return None


def _varies(entry: dict[str, Any], name: str) -> bool:
    counts = _per_request(entry, name)
    return counts is not None and counts.get("min") != counts.get("max")


def finding_key(finding: dict[str, Any]) -> tuple[Any, ...]:
    """Same finding in both runs: same id, endpoint, file and function. Not the line: a
    line added above an unchanged N+1 must not make it a new finding."""
    location = finding.get("location") or {}
    if not isinstance(location, dict):
        location = {}
    return tuple(
        str(value) if value is not None else None
        for value in (
            finding.get("id"),
            finding.get("endpoint"),
            location.get("path"),
            location.get("function"),
        )
    )


def _finding_changes(
    before: list[dict[str, Any]], after: list[dict[str, Any]], renamed: dict[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    def after_key(finding: dict[str, Any]) -> tuple[Any, ...]:
        key = finding_key(finding)
        return (key[0], renamed.get(key[1], key[1]), *key[2:])

    before_keys = {finding_key(f) for f in before}
    after_keys = {after_key(f) for f in after}
    appeared = [f for f in after if after_key(f) not in before_keys]
    disappeared = [f for f in before if finding_key(f) not in after_keys]
    return appeared, disappeared

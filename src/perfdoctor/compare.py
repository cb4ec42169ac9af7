"""``perfdoctor compare``: two ``perfdoctor bench`` results, a verdict per endpoint.

The latency change of each endpoint is the difference of the medians (and of the
p95s), with a percentile bootstrap interval: each side's samples are resampled
with replacement, the quantile is taken on every resample, and the interval is
the middle ``confidence`` share of the after-minus-before differences.

A resample's quantile is drawn without building the resample. Sorted samples
``x[0..n-1]`` resampled with replacement are ``x[floor(n*U_i)]`` for uniform
``U_i``; ``floor`` keeps order, so the resample's k-th smallest value is
``x[floor(n*U_(k))]`` where ``U_(k)``, the k-th smallest of n uniforms, is
``Beta(k, n-k+1)``; the next one is ``U_(k) + (1-U_(k))*Beta(1, n-k)``. That is
the same distribution as sorting ``random.choices(x, k=n)``, in O(1) per
resample instead of O(n log n): 2 x 5,000 samples take milliseconds.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

from perfdoctor.errors import UsageError
from perfdoctor.settings import Settings, load_settings
from perfdoctor.stats import percentile

FORMAT_VERSION = 1
FASTER, SLOWER = "faster", "slower"
NO_CHANGE, TOO_FEW = "no detectable change", "too few samples"


class CompareInputError(UsageError):
    """A compare input is missing, not JSON, or not a ``perfdoctor bench`` result."""


@dataclass(frozen=True)
class Change:
    """A quantile before and after, and the interval of the difference and ratio."""

    before: float
    after: float
    diff_low: float
    diff_high: float
    ratio_low: float | None
    ratio_high: float | None

    @property
    def diff(self) -> float:
        return self.after - self.before

    @property
    def ratio(self) -> float | None:
        return self.after / self.before if self.before > 0 else None

    @property
    def pct(self) -> float | None:
        return None if self.ratio is None else (self.ratio - 1.0) * 100.0


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
    # Set when --pair matched this endpoint to a differently named one in AFTER.
    after_name: str | None = None


@dataclass
class Comparison:
    before_path: str
    after_path: str
    confidence: float
    resamples: int
    seed: int
    min_change_pct: float
    endpoints: list[EndpointChange] = field(default_factory=list)
    only_before: list[str] = field(default_factory=list)
    only_after: list[str] = field(default_factory=list)
    appeared: list[dict[str, Any]] = field(default_factory=list)
    disappeared: list[dict[str, Any]] = field(default_factory=list)

    @property
    def regressions(self) -> list[str]:
        """Why this comparison is a regression (empty when it is not)."""
        reasons = [f"{e.name} slower" for e in self.endpoints if e.verdict == SLOWER]
        reasons += [
            f"new error finding {f['id']} on {f['endpoint']}"
            for f in self.appeared
            if f.get("severity") == "error"
        ]
        return reasons


# --- input ---


def load_result(path: str) -> dict[str, Any]:
    """A ``perfdoctor bench --output`` file, checked; CompareInputError otherwise."""
    data = _read_json(path, "a `perfdoctor bench --output` file")
    _check_shape(path, data)
    return cast(dict[str, Any], data)


def load_comparison(path: str) -> dict[str, Any]:
    """A ``perfdoctor compare --format json`` result, for the before/after of a report."""
    data = _read_json(path, "a `perfdoctor compare --format json` result")
    if not isinstance(data, dict) or data.get("tool") != "perfdoctor compare":
        raise CompareInputError(
            f"{path}: not a `perfdoctor compare --format json` result (no \"tool\": "
            "\"perfdoctor compare\")"
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
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise CompareInputError(
            f"{path}: written by a newer perfdoctor (format version {version}); upgrade perfdoctor"
        )
    if version != FORMAT_VERSION:
        raise bad(f"version is {version!r}, expected {FORMAT_VERSION}")
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
    findings = data.get("findings", [])
    if not isinstance(findings, list) or not all(
        isinstance(f, dict) and isinstance(f.get("id"), str) for f in findings
    ):
        raise bad("`findings` is not a list of findings with an `id`")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --- statistics ---


def quantile_draw(ordered: list[float], pct: float, rng: random.Random) -> float:
    """One bootstrap replicate of ``percentile(ordered, pct)`` (``ordered`` sorted).

    Same distribution as ``percentile(rng.choices(ordered, k=n), pct)``; see the
    module docstring for why.
    """
    n = len(ordered)
    rank = (n - 1) * pct / 100.0
    low = math.floor(rank)
    frac = rank - low
    k = low + 1  # 1-based order statistic
    u = rng.betavariate(k, n - k + 1)
    low_value = ordered[min(int(u * n), n - 1)]
    if frac == 0.0 or k >= n:
        return low_value
    u_next = u + (1.0 - u) * rng.betavariate(1, n - k)
    high_value = ordered[min(int(u_next * n), n - 1)]
    return low_value + (high_value - low_value) * frac


def bootstrap_change(
    before: list[float],
    after: list[float],
    pct: float,
    *,
    resamples: int,
    confidence: float,
    rng: random.Random,
) -> Change:
    """The ``pct`` percentile before and after, with intervals of difference and ratio."""
    b_sorted, a_sorted = sorted(before), sorted(after)
    diffs: list[float] = []
    ratios: list[float] = []
    for _ in range(resamples):
        b = quantile_draw(b_sorted, pct, rng)
        a = quantile_draw(a_sorted, pct, rng)
        diffs.append(a - b)
        if b > 0:
            ratios.append(a / b)
    tail = (1.0 - confidence) / 2.0 * 100.0
    diffs.sort()
    ratios.sort()
    # A ratio interval only when no replicate divided by zero: a partial one would lie.
    has_ratio = len(ratios) == resamples
    return Change(
        before=percentile(b_sorted, pct),
        after=percentile(a_sorted, pct),
        diff_low=percentile(diffs, tail),
        diff_high=percentile(diffs, 100.0 - tail),
        ratio_low=percentile(ratios, tail) if has_ratio else None,
        ratio_high=percentile(ratios, 100.0 - tail) if has_ratio else None,
    )


def verdict(median: Change | None, min_change_pct: float) -> str:
    """Faster/slower only when the interval excludes 0 and the change is worth a word."""
    if median is None:
        return TOO_FEW
    big = median.pct is None or abs(median.pct) >= min_change_pct
    if median.diff_high < 0 and big:
        return FASTER
    if median.diff_low > 0 and big:
        return SLOWER
    return NO_CHANGE


# --- comparing ---


def run_command(
    before: str,
    after: str,
    fmt: str,
    stream: TextIO,
    *,
    confidence: float | None,
    resamples: int | None,
    seed: int | None,
    pair_texts: tuple[str, ...],
) -> int:
    """``perfdoctor compare``: prints the comparison, returns the exit code."""
    from perfdoctor.report.compare_json import to_json
    from perfdoctor.report.compare_table import render_text

    pairs: dict[str, str] = {}
    for text in pair_texts:
        b_name, sep, a_name = (part.strip() for part in text.partition("="))
        if not sep or not b_name or not a_name:
            raise UsageError(f"bad --pair {text!r}: expected 'GET /articles=GET /articles/fixed'")
        pairs[b_name] = a_name
    result = compare(
        load_result(before),
        load_result(after),
        load_settings(),
        before_path=before,
        after_path=after,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        pairs=pairs,
    )
    if fmt == "json":
        stream.write(json.dumps(to_json(result), indent=2) + "\n")
    else:
        render_text(result, stream)
    return 1 if result.regressions else 0


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
) -> Comparison:
    """Compare two loaded bench results (see :func:`load_result`).

    ``pairs`` maps a BEFORE endpoint to a differently named AFTER one (an endpoint
    and its fixed twin); other endpoints are matched by name.
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
    b_endpoints: dict[str, Any] = before["endpoints"]
    a_endpoints: dict[str, Any] = after["endpoints"]
    matched = match_endpoints(b_endpoints, a_endpoints, pairs or {})
    result.only_before = sorted(set(b_endpoints) - {b for b, _ in matched})
    result.only_after = sorted(set(a_endpoints) - {a for _, a in matched})
    for b_name, a_name in matched:
        # One generator per endpoint, from the seed and the name: adding an endpoint
        # to a run does not change another endpoint's interval.
        rng = random.Random(f"{seed}:{b_name}")
        change = _endpoint(b_name, b_endpoints[b_name], a_endpoints[a_name], settings, result, rng)
        result.endpoints.append(dataclasses.replace(change, after_name=a_name))
    # A finding of a paired AFTER endpoint is matched as if on its BEFORE twin.
    renamed = {a: b for b, a in (pairs or {}).items()}
    result.appeared, result.disappeared = _finding_changes(
        before.get("findings", []), after.get("findings", []), renamed
    )
    return result


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
) -> EndpointChange:
    b_samples = [float(v) for v in before["latencies_ms"]]
    a_samples = [float(v) for v in after["latencies_ms"]]
    enough = min(len(b_samples), len(a_samples)) >= max(1, settings.compare_min_samples)
    median = p95 = None
    if enough:
        kwargs: dict[str, Any] = {
            "resamples": result.resamples,
            "confidence": result.confidence,
            "rng": rng,
        }
        median = bootstrap_change(b_samples, a_samples, 50.0, **kwargs)
        p95 = bootstrap_change(b_samples, a_samples, 95.0, **kwargs)
    return EndpointChange(
        name=name,
        verdict=verdict(median, result.min_change_pct),
        samples=(len(b_samples), len(a_samples)),
        errors=(int(before.get("errors") or 0), int(after.get("errors") or 0)),
        median=median,
        p95=p95,
        queries=(before.get("queries_per_request"), after.get("queries_per_request")),
        memory_kb=(before.get("memory_peak_kb"), after.get("memory_peak_kb")),
    )


def finding_key(finding: dict[str, Any]) -> tuple[Any, ...]:
    """Same finding in both runs: same id, endpoint and user code location."""
    location = finding.get("location") or {}
    if not isinstance(location, dict):
        location = {}
    return (
        finding.get("id"),
        finding.get("endpoint"),
        location.get("path"),
        location.get("line"),
        location.get("function"),
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

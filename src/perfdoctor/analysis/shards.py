"""``perfdoctor merge``: the JSON reports of several shards as one analysis.

Each shard of a fleet analyses its own store (``perfdoctor report --format
json``); every finding's ``fingerprint`` is equal on every shard, so findings
merge by it, by the rules one analysis merges per-request findings with
(:class:`perfdoctor.analysis.merging.ShardMerger`): the worst example kept,
``requests_affected`` and ``runs`` summed, means weighted by requests.

Endpoints: requests are summed and the per-request means (queries, db, http,
cache, python) weighted by requests, which is exact.  Percentiles do not add:
p50/p95/p99 are the highest shard's, an upper bound on the fleet's (no more
than 5% of any shard's requests are over its p95, so no more than 5% of all
are over the highest), exact with one shard; each shard's own figures are kept
in :class:`Merged` (the JSON report's ``merged.endpoints``).

Budgets are left out: a budget's p95 is checked on one store, where it is
exact (``report`` on each shard, ``--fail-on`` there).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfdoctor.analysis.analyze import Analysis, note_sampling
from perfdoctor.analysis.merging import ShardMerger
from perfdoctor.analysis.sampling import Sampled
from perfdoctor.errors import BadInputs
from perfdoctor.model import SEVERITY_RANK, EndpointStats, Finding, Location
from perfdoctor.report.json_report import CONTRACT_VERSION
from perfdoctor.store.salvage import Damage
from perfdoctor.suppress import Ignored, Suppressed

PERCENTILES = ("p50_ms", "p95_ms", "p99_ms")
# Means per request: merged weighted by each shard's requests.
MEANS = ("queries_per_request", "db_ms", "http_ms", "cache_ms", "python_ms")
_MAKE = "make each with `perfdoctor report --format json -o FILE` on its shard"


@dataclass
class Merged:
    """Which reports were merged, and each one's endpoint figures."""

    reports: list[str]
    # endpoint -> one row per report that has it: report, requests, percentiles.
    endpoints: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Whether a report had [tool.perfdoctor.budgets] rows, left out here.
    budgets_left_out: bool = False

    def lines(self) -> list[str]:
        """For a report's header: what was merged, what is exact and what is not."""
        n = len(self.reports)
        lines = [
            f"Merged from {n} report{'s' if n != 1 else ''}: {', '.join(self.reports)} "
            "(--format json: each one's endpoint figures).",
            "Counts summed, means weighted by requests; p50/p95/p99: the highest "
            "shard's (an upper bound on the fleet's).",
        ]
        if self.budgets_left_out:
            lines.append("Budgets are checked per shard (`perfdoctor report` on each), not here.")
        return lines

    def note(self) -> str:
        return " ".join(self.lines())

    def to_dict(self) -> dict[str, Any]:
        return {
            "reports": self.reports,
            "percentiles": "max of shards: an upper bound on the fleet's",
            "endpoints": self.endpoints,
        }


def load(paths: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """Each report read and checked; every bad one named, one line each."""
    errors: list[str] = []
    reports: list[tuple[str, dict[str, Any]]] = []
    digests: dict[str, str] = {}
    for path in paths:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            errors.append(f"{path}: cannot read it ({exc.strerror or exc})")
            continue
        digest = hashlib.sha256(raw).hexdigest()
        if digest in digests:
            same = (
                "given twice"
                if digests[digest] == path
                else f"the same report as {digests[digest]}"
            )
            errors.append(f"{path}: {same}; merged twice, its requests would count twice")
            continue
        digests[digest] = path
        try:
            reports.append((path, _checked(json.loads(raw.decode("utf-8")))))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            errors.append(f"{path}: not JSON ({exc}); {_MAKE}")
        except _Bad as exc:
            errors.append(f"{path}: {exc}")
    if errors:
        raise BadInputs(errors)
    return reports


class _Bad(Exception):
    pass


def _checked(data: Any) -> dict[str, Any]:
    tool = data.get("tool") if isinstance(data, dict) else None
    if isinstance(tool, str):
        raise _Bad(f"a `{tool}` result, not a `perfdoctor report --format json`; {_MAKE}")
    if not isinstance(data, dict) or "findings" not in data or "endpoints" not in data:
        raise _Bad(f"not a `perfdoctor report --format json` (no findings and endpoints); {_MAKE}")
    if data.get("version") != CONTRACT_VERSION:
        raise _Bad(
            f"report version {data.get('version')!r}, this perfdoctor reads version "
            f"{CONTRACT_VERSION}; make the reports with the same perfdoctor"
        )
    findings, endpoints = data["findings"], data["endpoints"]
    if not isinstance(findings, list) or not isinstance(endpoints, list):
        raise _Bad(f"findings and endpoints must be lists; {_MAKE}")
    for index, entry in enumerate(findings):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("id"), str)
            and entry.get("severity") in SEVERITY_RANK
            and isinstance(entry.get("evidence"), dict)
        ):
            raise _Bad(f"findings[{index}] is not a finding (id, severity, evidence)")
    for index, entry in enumerate(endpoints):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and all(_is_number(entry.get(k)) for k in ("requests", *PERCENTILES))
        ):
            raise _Bad(f"endpoints[{index}] is not an endpoint (name, requests, percentiles)")
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finding(entry: dict[str, Any]) -> Finding:
    location = entry.get("location")
    return Finding(
        id=entry["id"],
        severity=entry["severity"],
        title=str(entry.get("title") or ""),
        endpoint=entry.get("endpoint"),
        location=_location(location),
        evidence=dict(entry["evidence"]),
        fix=str(entry.get("fix") or ""),
        fingerprint=str(entry.get("fingerprint") or ""),
        trace_id=entry.get("trace_id"),
    )


def _location(value: Any) -> Location | None:
    if not isinstance(value, dict) or not isinstance(value.get("path"), str):
        return None
    line = value.get("line")
    return Location(
        value["path"], line if isinstance(line, int) else 0, str(value.get("function") or "")
    )


def merge(reports: Sequence[tuple[str, dict[str, Any]]]) -> Analysis:
    """One analysis of every shard's report: the renderers show it as a report."""
    findings = ShardMerger()
    for _, data in reports:
        for entry in data["findings"]:
            findings.add(_finding(entry))
    merged = Merged([name for name, _ in reports])
    endpoints = _endpoints(reports, merged)
    merged.budgets_left_out = any(data.get("budgets") for _, data in reports)
    sampled = _sampled(reports)
    merged_findings = findings.findings()
    # "seen in 37 of ~740 requests": out of every shard's requests now.
    note_sampling(merged_findings, sampled)
    return Analysis(
        findings=merged_findings,
        endpoints=endpoints,
        traces=sum(e.requests for e in endpoints),
        hotspots=_hotspots(reports),
        suppressed=_suppressed(reports),
        damage=_damage(reports),
        sampled=sampled,
        merged=merged,
    )


def _endpoints(
    reports: Sequence[tuple[str, dict[str, Any]]], merged: Merged
) -> list[EndpointStats]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for name, data in reports:
        for entry in data["endpoints"]:
            rows.setdefault(entry["name"], []).append(entry)
            merged.endpoints.setdefault(entry["name"], []).append(
                {"report": name, **{k: entry[k] for k in ("requests", *PERCENTILES)}}
            )
    stats = []
    for endpoint, entries in rows.items():
        requests = sum(int(e["requests"]) for e in entries)
        # A shard that kept the endpoint's requests only as summaries measured no means.
        measured = [e for e in entries if not e.get("summaries_only")]
        weight = sum(int(e["requests"]) for e in measured) or 1

        def mean(key: str, entries: list[dict[str, Any]] = measured, weight: int = weight) -> float:
            total = sum(float(e.get(key) or 0.0) * int(e["requests"]) for e in entries)
            return round(total / weight, 3)

        top = {k: max(float(e[k]) for e in entries) for k in PERCENTILES}
        means = {k: mean(k) for k in MEANS}
        stats.append(
            EndpointStats(endpoint, requests, **top, **means, summaries_only=not measured)
        )
    # As one analysis orders them: slowest p95 first.
    stats.sort(key=lambda s: (-s.p95_ms, s.name))
    return stats


def _hotspots(reports: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Per endpoint, the hotspots of the shard that served it most."""
    best: dict[str, tuple[int, list[dict[str, Any]]]] = {}
    for _, data in reports:
        for entry in data["endpoints"]:
            spots = entry.get("hotspots")
            if isinstance(spots, list) and spots:
                requests = int(entry["requests"])
                if requests > best.get(entry["name"], (-1, []))[0]:
                    best[entry["name"]] = (requests, spots)
    return {name: spots for name, (_, spots) in best.items()}


def _suppressed(reports: Sequence[tuple[str, dict[str, Any]]]) -> Suppressed:
    """Ignored findings once per fingerprint; the baseline's count is each shard's
    (the same baseline, the same findings left out on every shard): the highest."""
    ignored: dict[str, Ignored] = {}
    baseline = 0
    for _, data in reports:
        suppressed = data.get("suppressed")
        if not isinstance(suppressed, dict):
            continue
        count = suppressed.get("baseline")
        baseline = max(baseline, count if isinstance(count, int) else 0)
        for entry in suppressed.get("ignored_findings") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                continue
            finding = _finding({"severity": "info", "evidence": {}, **entry})
            key = finding.fingerprint or repr(entry)
            ignored.setdefault(
                key, Ignored(finding, str(entry.get("by") or ""), str(entry.get("reason") or ""))
            )
    return Suppressed(ignored=list(ignored.values()), baseline=baseline)


def _damage(reports: Sequence[tuple[str, dict[str, Any]]]) -> Damage:
    damage = Damage()
    for _, data in reports:
        counts = data.get("damaged")
        if isinstance(counts, dict):
            for table in damage.counts():
                value = counts.get(table)
                if isinstance(value, int):
                    setattr(damage, table, getattr(damage, table) + value)
    return damage


def _sampled(reports: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Sampled]:
    """Requests seen and traces kept summed per endpoint; the lowest rate, as one
    store holding several sampled runs says."""
    sampled: dict[str, Sampled] = {}
    for _, data in reports:
        table = data.get("sampled")
        if not isinstance(table, dict):
            continue
        for name, row in table.items():
            if not isinstance(row, dict) or not all(
                _is_number(row.get(k)) for k in ("seen", "kept", "rate")
            ):
                continue
            was = sampled.get(name)
            seen, kept, rate = int(row["seen"]), int(row["kept"]), float(row["rate"])
            summary = int(row["summary"]) if _is_number(row.get("summary")) else 0
            sampled[name] = (
                Sampled(seen, kept, rate, summary)
                if was is None
                else Sampled(
                    was.seen + seen, was.kept + kept, min(was.rate, rate), was.summary + summary
                )
            )
    return sampled

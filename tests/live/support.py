"""Reading the live lines ``perfdoctor run --live`` writes on stderr."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from perfdoctor import store
from perfdoctor.model import Trace

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# GET    /articles/       200    14 ms   44 queries  N+1 ×20 blog/views.py:20 ...
REQUEST = re.compile(
    r"^(?P<method>[A-Z]+)\s+(?P<route>\S+)\s+(?P<status>\d{3}|---)\s+(?P<ms>\d+) ms"
    r"\s+(?P<queries>\d+) (?:query|queries|q)(?:\s+(?P<marks>\S.*))?$"
)
REPEAT = re.compile(
    r"^(?P<method>[A-Z]+)\s+(?P<route>\S+)\s+(?P<status>\d{3}|---)\s+… ×(?P<count>\d+) more like this"
)
OVERFLOW = re.compile(r"^… (?P<count>\d+) more requests?: (?P<endpoints>.*)$")


@dataclass
class Lines:
    requests: list[re.Match[str]]
    repeats: list[re.Match[str]]
    overflows: list[re.Match[str]]

    def of(self, route: str) -> list[re.Match[str]]:
        return [m for m in self.requests if m["route"] == route]

    def repeated(self, route: str) -> int:
        return sum(int(m["count"]) for m in self.repeats if m["route"] == route)

    def overflowed(self, endpoint: str) -> int:
        total = 0
        for m in self.overflows:
            for part in m["endpoints"].split(", "):
                name, _, count = part.rpartition(" ×")
                if name == endpoint:
                    total += int(count)
        return total

    def accounted(self, route: str, method: str = "GET") -> int:
        """Requests of ``route`` shown, counted as repeats, or counted in the overflow."""
        return len(self.of(route)) + self.repeated(route) + self.overflowed(f"{method} {route}")


def parse(output: str) -> Lines:
    requests, repeats, overflows = [], [], []
    for raw in output.splitlines():
        line = ANSI.sub("", raw).rstrip()
        for pattern, bucket in ((REPEAT, repeats), (REQUEST, requests), (OVERFLOW, overflows)):
            found = pattern.match(line)
            if found:
                bucket.append(found)
                break
    return Lines(requests, repeats, overflows)


def raw_request_lines(output: str) -> list[str]:
    """The request lines as written, escape sequences included."""
    return [raw for raw in output.splitlines() if REQUEST.match(ANSI.sub("", raw).rstrip())]


def stored_requests(traces: Path, name: str) -> list[Trace]:
    return [t for t in store.load_traces(traces) if t.name == name and t.kind == "http"]


def query_counts(traces: list[Trace]) -> Counter[int]:
    return Counter(len(t.db_spans()) for t in traces)


# metric *( ";" param ), params as token=token or token="quoted string" (W3C Server Timing).
_METRIC = re.compile(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)((?:\s*;\s*[^;,=\s]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^;,\s]+))*)\s*(?:,|$)')
_PARAM = re.compile(r'\s*;\s*([^;,=\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]+)')


def parse_server_timing(value: str) -> dict[str, dict[str, str]]:
    """Metric name -> its parameters (``dur``, ``desc``), quotes removed."""
    metrics: dict[str, dict[str, str]] = {}
    position = 0
    while position < len(value):
        found = _METRIC.match(value, position)
        assert found and found.end() > position, f"not Server-Timing syntax at {value[position:]!r}"
        params = {k: v[1:-1] if v.startswith('"') else v for k, v in _PARAM.findall(found[2])}
        metrics[found[1]] = params
        position = found.end()
    return metrics


def queries_in(metrics: dict[str, dict[str, str]]) -> int:
    desc = metrics["db"]["desc"]
    found = re.fullmatch(r"(\d+) quer(?:y|ies)", desc)
    assert found, desc
    return int(found[1])

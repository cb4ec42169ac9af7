"""slow-endpoint and slow-query say when their slow requests were measured on a busy machine.

The traces are real (tests/machine/support.py's Flask app under capture); the
machine sample on them is set to what capture stores on a loaded or a quiet
2-CPU machine, so each case is judged on the same measured requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from perfdoctor.analysis.analyze import analyze
from perfdoctor.model import Finding, Trace
from tests.conftest import report_json, run_perfdoctor
from tests.machine.support import (
    BUSY,
    COMPUTE_CPU_S,
    NAP_S,
    QUIET,
    SETTINGS,
    capture,
    on_machine,
)
from tests.otlp.otlp_lines import NEW_SERVER, line, server, span


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> list[Trace]:
    path = tmp_path_factory.mktemp("machine") / "traces.db"
    return capture(path, ["/compute", "/nap", "/report", "/wait"])


def found(traces: list[Trace], detector: str, endpoint: str) -> Finding:
    [finding] = [
        f for f in analyze(traces, SETTINGS).findings if f.id == detector and f.endpoint == endpoint
    ]
    return finding


def without(evidence: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in evidence.items() if k not in keys}


def test_a_slow_endpoint_measured_on_a_busy_machine_says_so(traces: list[Trace]) -> None:
    busy = found(on_machine(traces, BUSY), "slow-endpoint", "GET /nap")
    quiet = found(on_machine(traces, QUIET), "slow-endpoint", "GET /nap")
    assert busy.title == quiet.title + " (machine busy)"
    # Not hidden, not promoted: the same severity, the re-measure said first.
    assert busy.severity == quiet.severity
    assert busy.fix.startswith("Measure again on a quiet machine first")
    assert busy.fix.endswith(quiet.fix)
    sentence = busy.evidence["busy_machine"]
    assert sentence.startswith(
        "measured while the machine was busy (load average up to 4.6 on 2 CPUs, "
        "CPU pressure up to 63 %; 3 of 3 requests over the budget): those requests took "
    )
    assert sentence.endswith(
        "ms of CPU time (medians); measure again on a quiet machine before acting"
    )
    assert "steal" not in sentence  # 0 %: not part of the story
    assert busy.evidence["machine"] == {
        "samples": 3,
        "load1_max": 4.6,
        "load1_median": 4.6,
        "cpus": 2,
        "cpu_pressure_max": 63.0,
        "steal_pct_max": 0.0,
    }
    # Its thread's CPU time: a little of Flask's, none of the sleep.
    assert busy.evidence["cpu_p50_ms"] < NAP_S * 1000


def test_cpu_time_over_the_budget_is_slow_on_any_machine(traces: list[Trace]) -> None:
    """/compute burns 30 ms of CPU against a 10 ms budget: a quiet machine would not save it."""
    busy = found(on_machine(traces, BUSY), "slow-endpoint", "GET /compute")
    quiet = found(on_machine(traces, QUIET), "slow-endpoint", "GET /compute")
    assert busy.evidence["cpu_p50_ms"] >= COMPUTE_CPU_S * 1000
    assert busy.evidence["busy_machine"].endswith(
        "ms of CPU time (medians); the time on the CPU alone is over the budget, so it is "
        "slow on a quiet machine too"
    )
    assert (busy.title, busy.severity, busy.fix) == (quiet.title, quiet.severity, quiet.fix)


def test_a_quiet_machine_changes_nothing_but_the_machine_figures(traces: list[Trace]) -> None:
    for endpoint in ("GET /compute", "GET /nap"):
        unknown = found(on_machine(traces, None), "slow-endpoint", endpoint)
        quiet = found(on_machine(traces, QUIET), "slow-endpoint", endpoint)
        assert "busy_machine" not in quiet.evidence
        assert "machine" not in unknown.evidence
        assert quiet.evidence["machine"]["load1_max"] == 0.3
        assert (quiet.title, quiet.severity, quiet.fix) == (
            unknown.title,
            unknown.severity,
            unknown.fix,
        )
        # off_cpu's wording names what is known of the machine; every other figure is equal.
        assert without(quiet.evidence, "machine", "off_cpu") == without(unknown.evidence, "off_cpu")


@pytest.mark.parametrize(
    ("machine", "said"),
    [
        # Steal alone: a VM whose neighbours took its CPUs.
        ({"load1": 0.5, "cpus": 2, "cpu_pressure": 2.0, "steal_pct": 25.0}, "CPU steal up to 25 %"),
        # No PSI (macOS, an old kernel): the load average alone.
        ({"load1": 3.0, "cpus": 2}, "(load average up to 3.0 on 2 CPUs; 3 of 3 requests"),
        # PSI sees what the load average has not caught up with yet.
        ({"load1": 0.9, "cpus": 2, "cpu_pressure": 35.0}, "CPU pressure up to 35 %"),
    ],
)
def test_each_sign_of_a_busy_machine_is_enough(
    traces: list[Trace], machine: dict[str, Any], said: str
) -> None:
    finding = found(on_machine(traces, machine), "slow-endpoint", "GET /nap")
    assert said in finding.evidence["busy_machine"]
    assert finding.title.endswith("(machine busy)")


def test_one_busy_moment_among_the_slow_requests_is_not_a_busy_machine(
    traces: list[Trace],
) -> None:
    nap = [t for t in traces if t.name == "GET /nap"]
    others = [t for t in traces if t.name != "GET /nap"]
    one = on_machine(nap[:1], BUSY) + on_machine(nap[1:], QUIET)
    finding = found(one + others, "slow-endpoint", "GET /nap")
    assert "busy_machine" not in finding.evidence
    assert not finding.title.endswith("(machine busy)")
    assert finding.evidence["machine"]["load1_max"] == 4.6  # still in the figures
    two = on_machine(nap[:2], BUSY) + on_machine(nap[2:], QUIET)
    finding = found(two + others, "slow-endpoint", "GET /nap")
    assert "2 of 3 requests over the budget" in finding.evidence["busy_machine"]
    assert finding.title.endswith("(machine busy)")
    # The requests a user waited too long in, not the one finding merged.
    assert finding.evidence["requests_affected"] == 3


def test_time_neither_a_span_nor_the_cpu_explains_is_called_a_wait(traces: list[Trace]) -> None:
    nap = found(on_machine(traces, QUIET), "slow-endpoint", "GET /nap")
    assert nap.evidence["off_cpu_ms"] >= 50  # the 60 ms sleep, less the CPU Flask used
    assert (
        "the machine was not busy, so it waited for something perfdoctor does not capture"
        in (nap.evidence["off_cpu"])
    )
    busy = found(on_machine(traces, BUSY), "slow-endpoint", "GET /nap")
    assert (
        "on a busy machine that is waiting for a CPU, or for something" in busy.evidence["off_cpu"]
    )
    # Time inside a query is explained by the query: no wait claimed.
    for endpoint in ("GET /report", "GET /wait"):
        report = found(on_machine(traces, QUIET), "slow-endpoint", endpoint)
        assert report.evidence["biggest"] == "db"
        assert "off_cpu" not in report.evidence


def test_an_async_request_has_no_cpu_time_of_its_own(traces: list[Trace]) -> None:
    busy = on_machine(traces, BUSY)
    for trace in busy:
        trace.attrs["async"] = True  # its thread's CPU time is its event loop's
    finding = found(busy, "slow-endpoint", "GET /compute")
    assert "cpu_p50_ms" not in finding.evidence
    assert "off_cpu" not in finding.evidence
    # Without the CPU time, a quiet machine might save all of it.
    assert finding.title.endswith("(machine busy)")
    assert finding.evidence["busy_machine"].endswith(
        "3 of 3 requests over the budget): measure again on a quiet machine before acting"
    )


def test_a_slow_query_measured_on_a_busy_machine_says_so(traces: list[Trace]) -> None:
    busy = found(on_machine(traces, BUSY), "slow-query", "GET /wait")
    quiet = found(on_machine(traces, QUIET), "slow-query", "GET /wait")
    unknown = found(on_machine(traces, None), "slow-query", "GET /wait")
    assert busy.title == unknown.title + " (machine busy)"
    assert busy.severity == unknown.severity
    assert busy.fix == "Measure again on a quiet machine first: this was measured while the " + (
        "machine was busy, which alone can make it slow. " + unknown.fix
    )
    assert busy.evidence["busy_machine"] == (
        "measured while the machine was busy (load average up to 4.6 on 2 CPUs, CPU pressure "
        "up to 63 %; 3 of 3 requests where it ran over the budget): measure again on a quiet "
        "machine before acting"
    )
    assert busy.evidence["machine"]["samples"] == 3
    assert "busy_machine" not in quiet.evidence
    assert (quiet.title, quiet.fix) == (unknown.title, unknown.fix)
    assert without(quiet.evidence, "machine") == unknown.evidence


def test_a_query_on_the_cpu_over_the_budget_is_slow_on_any_machine(traces: list[Trace]) -> None:
    """SQLite counting in the request's thread: its CPU time alone is over the 5 ms budget."""
    busy = found(on_machine(traces, BUSY), "slow-query", "GET /report")
    quiet = found(on_machine(traces, QUIET), "slow-query", "GET /report")
    assert busy.evidence["busy_machine"].endswith(
        "3 of 3 requests where it ran over the budget): the time on the CPU alone is over the "
        "budget, so it is slow on a quiet machine too"
    )
    assert (busy.title, busy.fix) == (quiet.title, quiet.fix)


def test_a_machine_value_of_another_shape_is_ignored(traces: list[Trace]) -> None:
    for odd in ("busy", {"load1": "high", "cpus": True, "cpu_pressure": float("nan")}):
        finding = found(_with(traces, odd), "slow-endpoint", "GET /compute")
        assert "busy_machine" not in finding.evidence
        assert "machine" not in finding.evidence


def _with(traces: list[Trace], machine: Any) -> list[Trace]:
    out = on_machine(traces, None)
    for trace in out:
        trace.attrs["machine"] = machine
    return out


def test_otlp_traces_have_no_machine_and_no_claim(tmp_path: Path) -> None:
    """Traces imported from another producer: the findings, without a word on the machine."""
    lines = []
    for n in range(3):
        trace = f"{n + 1:032x}"
        root = f"{n + 1:016x}"
        query = span(
            f"{n + 101:016x}",
            "SELECT",
            3,
            10.0,
            300.0,
            {"db.system.name": "postgresql", "db.query.text": "SELECT sum(total) FROM orders"},
            parent=root,
            trace=trace,
        )
        lines.append(line([server(NEW_SERVER, 800.0, span_id=root, trace=trace), query]))
    exported = tmp_path / "otlp.jsonl"
    exported.write_text("".join(lines), encoding="utf-8")
    traces = tmp_path / "traces.db"
    result = run_perfdoctor("import", "otlp", str(exported), "--traces", str(traces))
    assert result.returncode == 0, result.stderr
    report = report_json(traces)
    by_id = {f["id"]: f for f in report["findings"]}
    for detector in ("slow-endpoint", "slow-query"):
        finding = by_id[detector]
        assert "machine" not in finding["evidence"]
        assert "busy_machine" not in finding["evidence"]
        assert "machine busy" not in finding["title"]
        assert not finding["fix"].startswith("Measure again")


def test_a_cache_candidate_measured_on_a_busy_machine_says_so(traces: list[Trace]) -> None:
    # healthchecks under load: Django's per-request user lookup (0.5 ms on a quiet
    # machine) read 10 ms and was offered as a cache candidate, with no caveat.
    busy = found(on_machine(traces, BUSY), "cache-candidate", "GET /wait")
    unknown = found(on_machine(traces, None), "cache-candidate", "GET /wait")
    quiet = found(on_machine(traces, QUIET), "cache-candidate", "GET /wait")
    assert busy.title == unknown.title + " (machine busy)"
    assert busy.fix.startswith("Measure again on a quiet machine first") and busy.fix.endswith(
        unknown.fix
    )
    assert busy.evidence["busy_machine"] == (
        "measured while the machine was busy (3 of 3 requests): measure again on a quiet "
        "machine before acting"
    )
    assert (quiet.title, quiet.fix, quiet.evidence) == (
        unknown.title,
        unknown.fix,
        unknown.evidence,
    )

"""``perfdoctor run --sample`` and ``instrument(sample=)`` on a real Flask app.

The draws are seeded (``PERFDOCTOR_SAMPLE_SEED``), so how many requests the head
draw keeps is the same on every run; the tests still only ask for "about" the rate.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfdoctor import store
from tests.capture.apps_support import app_env
from tests.conftest import report_json, run_perfdoctor

APP = Path(__file__).parent / "sampled_app.py"
REQUESTS = 400
# sampled_app.py: every 25th request is slow, every 20th (not 25th) fails.
SLOW = REQUESTS // 25
FAILED = REQUESTS // 20 - REQUESTS // 100
FAST = REQUESTS - SLOW - FAILED


# /slow sleeps 60 ms: over this, far under the default 500 ms budget, keeps the test quick.
SLOW_40_MS = "[tool.perfdoctor]\nsample_slow_ms = 40\n"


def _project(tmp_path: Path, pyproject: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    return tmp_path


def _run(tmp_path: Path, *options: str, seed: str = "7", pyproject: str = SLOW_40_MS) -> Path:
    traces = tmp_path / "traces.db"
    result = run_perfdoctor(
        "run",
        "--traces",
        str(traces),
        *options,
        "--",
        sys.executable,
        str(APP),
        str(tmp_path / "app.db"),
        str(REQUESTS),
        cwd=_project(tmp_path, pyproject),
        env=app_env(PERFDOCTOR_SAMPLE_SEED=seed),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "perfdoctor:" not in result.stderr, result.stderr
    return traces


def _kept(traces: Path) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for trace in store.load_traces(traces):
        if trace.kind == "http":
            found.setdefault(trace.name, []).append(trace)
    return found


def _counts(traces: Path) -> dict[str, tuple[int, int]]:
    with sqlite3.connect(traces) as conn:
        return {n: (s, k) for n, s, k in conn.execute("SELECT name, seen, kept FROM sampling")}


def test_a_tenth_kept_with_every_slow_and_failed_request(tmp_path: Path) -> None:
    traces = _run(tmp_path, "--sample", "0.1")
    kept = _kept(traces)
    # About a tenth of the fast requests; the seed makes it the same count every run.
    head = [t for t in kept["GET /items"] if t.attrs["sample"]["kept"] == "head"]
    assert {t.attrs["sample"]["rate"] for group in kept.values() for t in group} == {0.1}
    assert 0.05 * FAST <= len(head) <= 0.15 * FAST
    # Any other was kept because a busy machine made it slow.
    assert all(t.duration_ms >= 40 for t in kept["GET /items"] if t not in head)
    # The tail rule: none of the slow or failed requests is left out.
    assert len(kept["GET /slow"]) == SLOW
    assert {t.attrs["sample"]["kept"] for t in kept["GET /slow"]} == {"slow"}
    assert len(kept["GET /fail"]) == FAILED
    assert {t.status for t in kept["GET /fail"]} == {500}
    # Every request counted, kept or not.
    assert _counts(traces) == {
        "GET /items": (FAST, len(kept["GET /items"])),
        "GET /slow": (SLOW, SLOW),
        "GET /fail": (FAILED, FAILED),
    }


def test_a_request_over_its_endpoints_budget_is_kept(tmp_path: Path) -> None:
    # The global slow threshold stays at its 500 ms default; /slow's own budget
    # (40 ms) is what its 60 ms requests break, so the tail rule keeps them all.
    pyproject = '[tool.perfdoctor.budgets]\n"GET /slow" = { p95_ms = 40 }\n'
    kept = _kept(_run(tmp_path, "--sample", "0.1", pyproject=pyproject))
    assert len(kept["GET /slow"]) == SLOW
    assert {t.attrs["sample"]["kept"] for t in kept["GET /slow"]} == {"slow"}
    # Other endpoints keep the 500 ms threshold: their fast requests go by the draw.
    assert {t.attrs["sample"]["kept"] for t in kept["GET /items"]} == {"head"}
    assert len(kept["GET /items"]) <= 0.15 * FAST


def test_a_capped_store_counts_the_requests_of_the_traces_it_still_holds(
    tmp_path: Path,
) -> None:
    # Far more than the cap holds: retention drops the oldest traces, and with
    # them the requests they account for, so "seen" is the window's, not the run's.
    requests = 2500
    traces = tmp_path / "traces.db"
    result = run_perfdoctor(
        "run", "--traces", str(traces), "--sample", "0.5", "--max-store-mb", "0.5", "--",
        sys.executable, str(APP), str(tmp_path / "app.db"), str(requests),
        cwd=_project(tmp_path, SLOW_40_MS), env=app_env(PERFDOCTOR_SAMPLE_SEED="7"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(traces) as conn:
        assert conn.execute("SELECT dropped FROM retention").fetchone()[0] > 0
    held = _kept(traces)
    counts = _counts(traces)
    assert sum(seen for seen, _ in counts.values()) < requests
    for name, group in held.items():
        seen, kept = counts[name]
        assert kept == len(group)
        accounted = sum(t.attrs["sample"]["seen"] for t in group)
        # What is left over: requests dropped after the endpoint's last kept one.
        assert 0 <= seen - accounted < 30, name


def test_reports_say_what_was_sampled(tmp_path: Path) -> None:
    traces = _run(tmp_path, "--sample", "0.1")
    kept = len(_kept(traces)["GET /items"])
    report = report_json(traces, cwd=tmp_path)
    endpoints = {e["name"]: e for e in report["endpoints"]}
    # Requests as seen, not as kept; the N+1 runs 8 queries in every request.
    assert endpoints["GET /items"]["requests"] == FAST
    assert endpoints["GET /items"]["queries_per_request"] == 9.0
    assert report["sampled"]["GET /items"] == {"seen": FAST, "kept": kept, "rate": 0.1}
    [n_plus_one] = [f for f in report["findings"] if f["id"] == "n-plus-one-query"]
    assert n_plus_one["evidence"]["sampled"] == f"seen in {kept} of ~{FAST} requests"

    text = run_perfdoctor("report", "--traces", str(traces), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert f"seen in {kept} of ~{FAST} requests" in text.stdout
    header = f"Sampled: {kept + SLOW + FAILED} traces kept of {REQUESTS} requests seen"
    assert header in text.stdout
    # A pull-request comment and the HTML page say it too, near the top.
    for fmt in ("markdown", "html"):
        out = run_perfdoctor("report", "--traces", str(traces), "--format", fmt, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert header in out.stdout[: out.stdout.index("n-plus-one-query")], fmt
        assert f"seen in {kept} of ~{FAST} requests" in out.stdout, fmt


def test_weighted_percentiles_are_not_skewed_by_the_slow_requests_kept(tmp_path: Path) -> None:
    # A tenth of the fast requests and all the slow ones: unweighted, the slow
    # ones would be a quarter of the kept /items-and-/slow traces.
    traces = _run(tmp_path, "--sample", "0.1")
    endpoints = {e["name"]: e for e in report_json(traces, cwd=tmp_path)["endpoints"]}
    assert endpoints["GET /slow"]["requests"] == SLOW
    assert endpoints["GET /slow"]["p50_ms"] >= 40
    assert endpoints["GET /items"]["p95_ms"] < endpoints["GET /slow"]["p50_ms"]


@pytest.mark.parametrize("options", [(), ("--sample", "1")])
def test_without_sampling_every_request_is_kept_and_nothing_is_counted(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    traces = _run(tmp_path, *options)
    kept = _kept(traces)
    assert {name: len(group) for name, group in kept.items()} == {
        "GET /items": FAST,
        "GET /slow": SLOW,
        "GET /fail": FAILED,
    }
    assert not any("sample" in t.attrs for group in kept.values() for t in group)
    assert _counts(traces) == {}
    report = report_json(traces, cwd=tmp_path)
    assert "sampled" not in report
    assert not any("sampled" in f["evidence"] for f in report["findings"])


def run_instrumented(tmp_path: Path, *tail: str) -> Path:
    """sampled_app.py switching capture on itself, instrument(sample=0.1[, sample_tail=TAIL])."""
    traces = tmp_path / "traces.db"
    done = subprocess.run(
        [
            sys.executable,
            str(APP),
            str(tmp_path / "app.db"),
            str(REQUESTS),
            "instrument",
            "0.1",
            str(traces),
            *tail,
        ],
        cwd=_project(tmp_path, SLOW_40_MS),
        env=app_env(PERFDOCTOR_SAMPLE_SEED="7"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return traces


def test_instrument_samples_in_process(tmp_path: Path) -> None:
    traces = run_instrumented(tmp_path)
    kept = _kept(traces)
    assert 0.05 * FAST <= len(kept["GET /items"]) <= 0.15 * FAST
    # The slow setting is read by `run` only: in-process, the 500 ms default
    # applies, so the 60 ms requests are sampled like the rest.
    assert len(kept["GET /fail"]) == FAILED
    assert _counts(traces)["GET /items"] == (FAST, len(kept["GET /items"]))


@pytest.mark.parametrize("value", ["0", "2", "abc", "-0.5", "nan"])
def test_a_bad_rate_is_one_line_and_exit_2(tmp_path: Path, value: str) -> None:
    result = run_perfdoctor(
        "run",
        "--traces",
        str(tmp_path / "t.db"),
        "--sample",
        value,
        "--",
        sys.executable,
        "-c",
        "pass",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--sample" in lines[0] and "at most 1" in lines[0]
    assert not (tmp_path / "t.db").exists()


def test_a_bad_rate_in_pyproject_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.perfdoctor]\nsample_rate = 0\n")
    result = run_perfdoctor(
        "run",
        "--traces",
        str(tmp_path / "t.db"),
        "--",
        sys.executable,
        "-c",
        "pass",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "sample_rate in [tool.perfdoctor]" in result.stderr

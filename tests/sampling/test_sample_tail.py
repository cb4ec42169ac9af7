"""``run --sample --sample-tail summary`` on a real Flask app: only the requests the
head draw keeps are captured; a slow or failed one it left out is kept all the same,
with its endpoint, status and timings but none of its operations."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from perfdoctor.capture import context, sampling
from tests.conftest import report_json, run_perfdoctor
from tests.sampling.test_sampling import (
    APP,
    FAILED,
    FAST,
    SLOW,
    SLOW_40_MS,
    _counts,
    _kept,
    _run,
    run_instrumented,
)

SOURCE = APP.read_text().splitlines()
LOOP_LINE = next(n for n, text in enumerate(SOURCE, 1) if "conn.execute(\"SELECT name" in text)


def test_only_drawn_requests_are_captured_and_the_tail_is_kept_as_a_summary(
    tmp_path: Path,
) -> None:
    traces = _run(tmp_path, "--sample", "0.1", "--sample-tail", "summary")
    kept = _kept(traces)
    head = kept["GET /items"]
    assert 0.05 * FAST <= len(head) <= 0.15 * FAST
    assert {t.attrs["sample"]["kept"] for t in head} == {"head"}
    # A drawn request is captured whole: its list query and its eight lookups.
    for trace in head:
        assert [s.kind for s in trace.spans].count("db") == 9
        assert "summary" not in trace.attrs["sample"]
    # Every slow and failed request is still kept: those the draw left out (about
    # nine in ten) without their operations, those it chose whole.
    assert len(kept["GET /slow"]) == SLOW and len(kept["GET /fail"]) == FAILED
    tail = kept["GET /slow"] + kept["GET /fail"]
    summaries = [t for t in tail if t.attrs["sample"].get("summary")]
    assert len(summaries) >= 0.75 * len(tail)
    for trace in tail:
        assert bool(trace.spans) is (trace not in summaries)
    assert all(t.duration_ms >= 40 for t in kept["GET /slow"])
    assert {t.status for t in kept["GET /fail"]} == {500}
    assert _counts(traces) == {
        "GET /items": (FAST, len(head)),
        "GET /slow": (SLOW, SLOW),
        "GET /fail": (FAILED, FAILED),
    }


def test_reports_count_queries_over_the_requests_captured(tmp_path: Path) -> None:
    traces = _run(tmp_path, "--sample", "0.1", "--sample-tail", "summary")
    report = report_json(traces, cwd=tmp_path)
    endpoints = {e["name"]: e for e in report["endpoints"]}
    # The summaries are not requests without queries: q/req is over the drawn ones.
    assert endpoints["GET /items"]["queries_per_request"] == 9.0
    assert endpoints["GET /slow"]["requests"] == SLOW
    assert endpoints["GET /slow"]["p50_ms"] >= 40
    kept = _kept(traces)
    summaries = {
        name: sum(1 for t in group if t.attrs["sample"].get("summary"))
        for name, group in kept.items()
    }
    assert summaries["GET /slow"] > 0
    assert report["sampled"]["GET /slow"] == {
        "seen": SLOW, "kept": SLOW, "rate": 0.1, "summary": summaries["GET /slow"]
    }
    assert "summary" not in report["sampled"]["GET /items"]
    # With this seed the draw left every slow request out: no means were measured.
    assert summaries["GET /slow"] == SLOW
    assert endpoints["GET /slow"]["summaries_only"] is True
    assert "summaries_only" not in endpoints["GET /items"]
    # The drawn requests still find the N+1 at its line.
    [n_plus_one] = [f for f in report["findings"] if f["id"] == "n-plus-one-query"]
    assert n_plus_one["location"]["line"] == LOOP_LINE

    text = run_perfdoctor("report", "--traces", str(traces), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    flat = " ".join(text.stdout.split())
    slow_row = next(line for line in text.stdout.splitlines() if line.startswith("GET /slow "))
    assert slow_row.split()[-6:] == ["-", "-", "-", "-", "-", "0"]
    both = summaries["GET /slow"] + summaries["GET /fail"]
    assert f"{both} of them, slow or failed and not drawn, were kept without" in flat
    assert (
        f"GET /slow: kept {SLOW} of {SLOW} requests (sample rate 0.1); "
        f"{summaries['GET /slow']} slow or failed without their operations" in flat
    )


def test_the_setting_in_pyproject_is_used(tmp_path: Path) -> None:
    traces = _run(
        tmp_path, "--sample", "0.1", pyproject=SLOW_40_MS + 'sample_tail = "summary"\n'
    )
    assert any(t.attrs["sample"].get("summary") for t in _kept(traces)["GET /fail"])


def test_the_default_tail_keeps_the_operations(tmp_path: Path) -> None:
    kept = _kept(_run(tmp_path, "--sample", "0.1"))
    for trace in kept["GET /fail"]:
        assert [s.kind for s in trace.spans].count("db") == 1
        assert "summary" not in trace.attrs["sample"]


def test_instrument_takes_the_tail_in_process(tmp_path: Path) -> None:
    kept = _kept(run_instrumented(tmp_path, "summary"))
    assert len(kept["GET /fail"]) == FAILED
    assert any(t.attrs["sample"].get("summary") and not t.spans for t in kept["GET /fail"])


def test_a_tail_without_sampling_says_it_does_nothing(tmp_path: Path) -> None:
    result = run_perfdoctor(
        "run", "--traces", str(tmp_path / "t.db"), "--sample-tail", "summary", "--",
        sys.executable, "-c", "pass",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [
        "perfdoctor: --sample-tail has no effect without --sample: every request is captured"
    ]


@pytest.mark.parametrize("where", ["option", "pyproject"])
def test_a_bad_tail_is_one_line_and_exit_2(tmp_path: Path, where: str) -> None:
    options = ["--sample", "0.1"]
    if where == "option":
        options += ["--sample-tail", "some"]
    else:
        (tmp_path / "pyproject.toml").write_text('[tool.perfdoctor]\nsample_tail = "some"\n')
    result = run_perfdoctor(
        "run", "--traces", str(tmp_path / "t.db"), *options, "--",
        sys.executable, "-c", "pass",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "full" in lines[0] and "summary" in lines[0]
    assert not (tmp_path / "t.db").exists()


def test_a_bad_tail_in_the_environment_keeps_the_full_tail(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(sampling.ENV_SAMPLE_TAIL, "some")
    try:
        sampling.from_env(0.5, 500.0)
        assert context.state.sample_summary is False
        assert "PERFDOCTOR_SAMPLE_TAIL" in capsys.readouterr().err
        sampling.from_env(0.5, 500.0, "summary")
        assert context.state.sample_summary is True
        with pytest.raises(ValueError, match="full or summary"):
            sampling.from_env(0.5, 500.0, "some")
    finally:
        sampling.configure(1.0, 500.0)


def test_merged_shards_add_up_their_summaries(tmp_path: Path) -> None:
    reports = {}
    for shard, seed in (("a", "7"), ("b", "8")):
        folder = tmp_path / shard
        folder.mkdir()
        traces = _run(folder, "--sample", "0.1", "--sample-tail", "summary", seed=seed)
        reports[shard] = report_json(traces, cwd=folder)
        (tmp_path / f"{shard}.json").write_text(json.dumps(reports[shard]))
    merged = run_perfdoctor("merge", "a.json", "b.json", "--format", "json", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    data = json.loads(merged.stdout)
    counts = [reports[shard]["sampled"]["GET /fail"]["summary"] for shard in "ab"]
    row = data["sampled"]["GET /fail"]
    assert row == {"seen": 2 * FAILED, "kept": 2 * FAILED, "rate": 0.1, "summary": sum(counts)}
    # With these seeds shard a kept /slow only as summaries, shard b drew one: the
    # merged means are b's, not lowered by a's unmeasured zeros.
    slow = [{e["name"]: e for e in reports[shard]["endpoints"]}["GET /slow"] for shard in "ab"]
    assert slow[0].get("summaries_only") is True and "summaries_only" not in slow[1]
    endpoints = {e["name"]: e for e in data["endpoints"]}
    assert endpoints["GET /slow"]["queries_per_request"] == slow[1]["queries_per_request"] == 1.0
    assert endpoints["GET /slow"]["requests"] == 2 * SLOW
    assert endpoints["GET /items"]["queries_per_request"] == 9.0

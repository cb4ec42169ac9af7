"""A per-request finding merged over its requests shows the worst request as its
example, and the mean over every request beside it; the ranking uses the mean
(a real app's first, cold request made "loop time per request: 136 ms" of an
endpoint whose requests took 35 ms)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.analysis.merging import impact_ms, merge
from perfdoctor.detectors.n_plus_one_query import NPlusOneQuery
from perfdoctor.report.evidence import evidence_numbers
from perfdoctor.settings import Settings
from tests.inprocess import blog_db, capturing, load


def test_the_mean_over_requests_beside_the_worst_example(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    with capturing(traces):
        conn = blog_db()
        for request in range(4):
            with perfdoctor.trace("GET /articles", "http"):
                for (author_id,) in conn.execute("SELECT author_id FROM article").fetchall():
                    conn.execute("SELECT name FROM author WHERE id = ?", (author_id,)).fetchone()
                    if request == 0:
                        time.sleep(0.002)  # the first request is the slow one
    [finding] = [
        f for f in analyze(load(traces), Settings()).findings if f.id == "n-plus-one-query"
    ]
    evidence = finding.evidence
    assert evidence["requests_affected"] == 4
    mean = evidence["mean_ms"]
    # The example is the first request: 2 ms asleep after each of its 20 queries,
    # 19 of those between the loop's first query and its last.
    assert evidence["loop_ms"] >= 19 * 2
    assert mean["loop_ms"] < evidence["loop_ms"] / 2
    assert impact_ms(finding) == pytest.approx(mean["loop_ms"] * 4)
    [loop] = [s for s in evidence_numbers(evidence) if s.startswith("loop time per request")]
    assert loop == (
        f"loop time per request: {mean['loop_ms']:.2f} ms mean, "
        f"{evidence['loop_ms']:.2f} ms in the request shown"
    )


def test_a_finding_seen_in_one_request_has_no_mean(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("GET /articles", "http"):
            for (author_id,) in conn.execute("SELECT author_id FROM article").fetchall():
                conn.execute("SELECT name FROM author WHERE id = ?", (author_id,)).fetchone()
    [finding] = [
        f for f in analyze(load(traces), Settings()).findings if f.id == "n-plus-one-query"
    ]
    assert "mean_ms" not in finding.evidence
    assert any(
        s.startswith("loop time per request: ") and "mean" not in s
        for s in evidence_numbers(finding.evidence)
    )


def test_a_mean_close_to_the_example_is_not_shown_twice() -> None:
    evidence = {"loop_ms": 40.95, "requests_affected": 3, "mean_ms": {"loop_ms": 40.26}}
    assert "loop time per request: 40.95 ms" in evidence_numbers(evidence)


def test_a_report_and_the_pytest_plugin_merge_an_mn_plus_one_alike(tmp_path: Path) -> None:
    """``report`` builds a per-request N+1 finding only when it is the first or
    the worst of its fingerprint; the plugin's per-trace analysis builds every
    one and merges them. The worst request is the third, in a sequence (the
    author, then the author's articles, per article) whose loop time is what it
    costs."""
    traces = tmp_path / "traces.db"
    with capturing(traces):
        conn = blog_db()
        for request in range(5):
            with perfdoctor.trace("GET /articles", "http"):
                rows = conn.execute("SELECT id, author_id FROM article").fetchall()
                for _article_id, author_id in rows[: 8 + request]:
                    conn.execute("SELECT name FROM author WHERE id = ?", (author_id,)).fetchone()
                    conn.execute(
                        "SELECT id FROM article WHERE author_id = ?", (author_id,)
                    ).fetchall()
                    if request == 2:
                        time.sleep(0.001)
    loaded = load(traces)
    settings = Settings()
    detector = NPlusOneQuery()
    session = detector.session(settings)
    session.feed(loaded)
    reported = sorted(session.findings(), key=lambda f: f.fingerprint or "")
    merged = sorted(merge(detector.analyze(loaded, settings)), key=lambda f: f.fingerprint or "")
    assert len(reported) == 2
    # The example is the third request's (10 articles), each query a step of its sequence.
    assert [f.evidence["sequence"]["repeats"] for f in reported] == [10, 10]
    assert [(f.evidence, f.trace_id, f.title) for f in reported] == [
        (f.evidence, f.trace_id, f.title) for f in merged
    ]
    assert reported[0].evidence["requests_affected"] == 5


def test_a_report_and_the_pytest_plugin_merge_a_duplicate_query_alike(tmp_path: Path) -> None:
    """The same for duplicate-query: ``report`` builds a request's finding only when
    it is the first or the worst of its fingerprint, the plugin builds every one.
    Requests run the read twice or three times: the example kept is whichever
    wasted the most, the same on both sides."""
    from perfdoctor.detectors.duplicate_query import DuplicateQuery

    traces = tmp_path / "traces.db"
    with capturing(traces):
        conn = blog_db()
        for request in range(5):
            with perfdoctor.trace("GET /articles/<id>", "http"):
                for _copy in range(2 + request % 2):
                    conn.execute("SELECT title FROM article WHERE id = ?", (1,)).fetchall()
    loaded = load(traces)
    settings = Settings()
    detector = DuplicateQuery()
    session = detector.session(settings)
    session.feed(loaded)
    [reported] = session.findings()
    [merged] = merge(detector.analyze(loaded, settings))
    assert (reported.evidence, reported.trace_id, reported.title) == (
        merged.evidence,
        merged.trace_id,
        merged.title,
    )
    assert reported.evidence["requests_affected"] == 5
    assert reported.evidence["mean_ms"]["wasted_ms"] == merged.evidence["mean_ms"]["wasted_ms"]


def test_findings_built_only_when_needed_merge_as_findings_built_each_time() -> None:
    """Merger.add_lazily (a per-request detector's findings, most never built)
    gives the means and counts of Merger.add on every finding, whatever numbers
    the times are: floats, whole numbers, missing, or not numbers at all."""
    from perfdoctor.analysis.merging import Merger
    from perfdoctor.model import Finding

    times: list[dict[str, object]] = [
        {"total_ms": 3.25, "loop_ms": 4.5},
        {"total_ms": 2, "loop_ms": 7},
        {"total_ms": 1.5},
        {"total_ms": None, "loop_ms": 2.0, "wasted_ms": -0.0},
        {"total_ms": True, "loop_ms": "slow", "wasted_ms": 0.5},
        {"total_ms": 9.75, "loop_ms": 12.0, "wasted_ms": 3},
    ]

    def finding(numbers: dict[str, object]) -> Finding:
        return Finding(
            id="n-plus-one-query", severity="warning", title="t", endpoint="GET /a",
            location=None, evidence=dict(numbers), fix="", fingerprint="same",
        )  # fmt: skip

    eager, lazy = Merger(), Merger()
    for numbers in times:
        eager.add(finding(numbers))
        lazy.add_lazily("same", "warning", numbers, lambda numbers=numbers: finding(numbers))
    [by_add], [by_lazily] = eager.findings(), lazy.findings()
    assert by_lazily.evidence == by_add.evidence
    assert by_add.evidence["requests_affected"] == len(times)
    assert by_add.evidence["mean_ms"]["total_ms"] == round((3.25 + 2 + 1.5 + 9.75) / 4, 3)

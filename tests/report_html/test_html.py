"""The HTML report's content, read from the file: a real demo run, and hand-made traces
for the cases a real app rarely gives (a statement that closes a <script>, 5000 spans)."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

from markupsafe import escape

from perfdoctor import store
from perfdoctor.analysis.analyze import Analysis, analyze
from perfdoctor.model import EndpointStats, Finding, Location
from perfdoctor.report import chart_data, compare_view, render, waterfall
from perfdoctor.report import html as html_report
from perfdoctor.settings import Settings
from tests.conftest import run_perfdoctor
from tests.report_html.support import (
    HOSTILE,
    Report,
    finding_for,
    hostile_trace,
    huge_trace,
)


def _analysis(traces: list, findings: list[Finding]) -> Analysis:
    result = analyze(traces, Settings())
    result.findings = findings
    return result


def test_the_demo_report_has_every_section(demo_report: Report) -> None:
    page = demo_report.html
    for section in ("before-after", "endpoints", "findings", "breakdown", "latency", "budgets"):
        assert f'<section id="{section}">' in page
    assert f"store <code>{demo_report.traces}</code>" in page
    assert "perfdoctor 0.1.0" in page
    # The summary line counts findings by severity, as the index lists them.
    summary = re.search(r'<p class="summary" id="summary">(.*?)</p>', page, re.S)
    assert summary
    text = " ".join(re.sub(r"<[^>]+>", "", summary.group(1)).split())
    # Whether a timing finding of one line comes up on two endpoints depends on the
    # machine (it did in a loaded CI run): then it is shown once, and the line says so.
    counted = re.fullmatch(
        r"(\d+) findings: \d+ errors?, \d+ warnings?(, \d+ info)?"
        r"( \((\d+) shown: one line of code with one fix on several endpoints is shown once\))?"
        r" · before/after: no regression",
        text,
    )
    assert counted, text
    if counted.group(4):
        assert int(counted.group(4)) < int(counted.group(1))


def test_every_endpoint_is_a_row_and_every_finding_is_indexed_and_shown(
    demo_report: Report,
) -> None:
    analysis = analyze(store.load_traces(demo_report.traces), Settings())
    page = demo_report.html
    table = page.split('id="endpoint-table"')[1].split("</table>")[0]
    rows = re.findall(r'<td class="name">(.*?)</td>', table)
    names = [html.unescape(re.sub(r"<wbr>", "", r)) for r in rows]
    assert names == [e.name for e in analysis.endpoints]
    index = page.split('id="finding-index"')[1].split("</table>")[0]
    # The analysis's findings, budget ones added by the CLI, in the analysis's order.
    assert len(re.findall(r'<a href="#finding-\d+">\d+</a>', index)) >= len(analysis.findings)
    cards = re.findall(r'<details class="finding [^"]*" id="(finding-\d+)" open>', page)
    assert cards == [f"finding-{i}" for i in range(1, len(cards) + 1)]
    assert "budget-exceeded" in index  # GET /articles broke its 5 ms p95 budget


def test_each_finding_of_an_endpoint_has_a_waterfall_of_one_of_its_requests(
    demo_report: Report,
) -> None:
    data = demo_report.data()
    traces = {t.id: t for t in store.load_traces(demo_report.traces)}
    cards = re.findall(
        r'id="(finding-\d+)" open>.*?<span class="endpoint">(.*?)</span>', demo_report.html, re.S
    )
    assert cards
    for anchor, endpoint in cards:
        waterfall = data["waterfalls"][anchor]
        trace = traces[waterfall["trace"]]
        assert trace.name == html.unescape(endpoint)
        assert waterfall["total"] == len(trace.spans)
        assert [s["start"] for s in waterfall["spans"]] == sorted(
            s["start"] for s in waterfall["spans"]
        )


def test_the_n_plus_one_waterfall_highlights_exactly_the_repeated_query(
    demo_report: Report,
) -> None:
    analysis = analyze(store.load_traces(demo_report.traces), Settings())
    data = demo_report.data()
    checked = 0
    for index, finding in enumerate(analysis.findings, start=1):
        if finding.id != "n-plus-one-query":
            continue
        anchor = _anchor_of(demo_report.html, finding)
        waterfall = data["waterfalls"][anchor]
        hits = [s for s in waterfall["spans"] if s["hit"]]
        # Every repeat of the statement, and nothing else (the articles' other N+1 is a
        # different statement from the same loop).
        assert len(hits) == finding.evidence["count"], (index, finding.title)
        assert {s["detail"] for s in hits} == {" ".join(finding.evidence["statement"].split())}
        assert waterfall["highlighted"] == len(hits)
        checked += 1
    assert checked >= 2


def _anchor_of(page: str, finding: Finding) -> str:
    """The card of ``finding``: matched by detector, endpoint and title."""
    for anchor, body in re.findall(r'id="(finding-\d+)" open>(.*?)</summary>', page, re.S):
        text = html.unescape(body)
        if f">{finding.id}<" in text and finding.title in text and (finding.endpoint or "") in text:
            return str(anchor)
    raise AssertionError(f"no card for {finding.id} {finding.title}")


def test_cross_request_findings_get_an_example_request_at_their_location(
    demo_report: Report,
) -> None:
    """slow-endpoint and cache-candidate judge many requests: no trace_id of their own."""
    traces = store.load_traces(demo_report.traces)
    analysis = analyze(traces, Settings())
    by_id = {t.id: t for t in traces}
    groups: dict[str, list] = {}
    for t in traces:
        groups.setdefault(t.name, []).append(t)
    crossed = [f for f in analysis.findings if f.trace_id is None and f.endpoint in groups]
    assert crossed
    for finding in crossed:
        example = waterfall.example_trace(finding, by_id, groups)
        assert example is not None and example.name == finding.endpoint
        if finding.location is not None and any(
            waterfall._at(s, finding.location.path, finding.location.line)
            for t in groups[finding.endpoint or ""]
            for s in t.spans
        ):
            assert any(
                waterfall._at(s, finding.location.path, finding.location.line)
                for s in example.spans
            )


def test_before_after_shows_the_compare_result(demo_report: Report) -> None:
    assert demo_report.compare is not None
    compare = json.loads(demo_report.compare.read_text(encoding="utf-8"))
    section = demo_report.html.split('<section id="before-after">')[1].split("</section>")[0]
    for endpoint in compare["endpoints"]:
        assert html.escape(endpoint["name"]) in section
        assert endpoint["verdict"] in section
    articles = next(e for e in compare["endpoints"] if e["name"] == "GET /articles")
    assert articles["verdict"] == "faster"
    # The change as the verdict's method measured it, with its interval and the noise.
    latency = articles["latency"]
    low, high = ((r - 1) * 100 for r in latency["ratio_interval"])
    assert f"{latency['pct']:+.1f}% [{low:+.0f}%, {high:+.0f}%]" in section
    assert f"±{latency['noise_pct']:.0f}%" in section
    assert "Method: " in section
    # The p95 keeps the per-request bootstrap interval: the noise inside the runs.
    low, high = articles["p95_ms"]["diff_interval"]
    assert f"[{compare_view.ms(low)}, {compare_view.ms(high)}] ms" in section
    assert "56 → 2" in section  # queries per request
    assert "Findings that appeared (1)" in section and "duplicate-query" in section
    assert "Findings that disappeared (1)" in section and "n-plus-one-query" in section
    assert [row["name"] for row in demo_report.data()["compare"]] == [
        e["name"] for e in compare["endpoints"]
    ]


def test_the_file_needs_no_network(demo_report: Report) -> None:
    page = demo_report.html
    assert "<link" not in page
    assert not re.search(r"""\b(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    assert "Chart.js v4.6.1" in page  # inlined, not fetched


def test_a_statement_cannot_close_the_script_nor_inject_markup(tmp_path: Path) -> None:
    trace = hostile_trace()
    finding = finding_for(trace, HOSTILE, 9)
    out = io.StringIO()
    render(_analysis([trace], [finding]), "html", out, traces=[trace])
    page = out.getvalue()
    # Only the page's own three script elements close.
    assert page.count("</script>") == 3
    assert "<script>window.pwned" not in page
    assert "<b>not bold</b>" not in page and "&lt;b&gt;not bold&lt;/b&gt;" in page
    data = Report(tmp_path / "x.html", page, tmp_path, None).data()
    spans = data["waterfalls"]["finding-1"]["spans"]
    assert spans[0]["detail"] == HOSTILE and spans[0]["hit"] is True
    assert spans[1]["hit"] is False
    assert str(escape(HOSTILE)) in page  # the evidence, shown as text


def test_a_huge_trace_is_capped_keeping_the_problem_spans(tmp_path: Path) -> None:
    trace = huge_trace(5000)
    finding = finding_for(trace, "SELECT * FROM tag WHERE id = ?", 42)
    page = html_report.render_page(_analysis([trace], [finding]), traces=[trace])
    data = Report(tmp_path / "x.html", page, tmp_path, None).data()
    drawn = data["waterfalls"]["finding-1"]
    cap = waterfall.MAX_WATERFALL_SPANS
    assert len(drawn["spans"]) == cap and drawn["total"] == 5000
    assert drawn["highlighted"] == 500 and drawn["highlighted_shown"] == cap
    assert f"Showing {cap} of 5000 spans ({cap} of the 500 spans of this finding" in page


def test_a_capped_trace_fills_up_with_the_longest_other_spans() -> None:
    trace = huge_trace(1000)
    trace.spans[3].duration_ms = 50.0
    marked = {
        i for i, s in enumerate(trace.spans) if s.statement == "SELECT * FROM tag WHERE id = ?"
    }
    drawn = waterfall.waterfall_data(trace, marked, cap=120)
    assert drawn["highlighted_shown"] == 100
    assert sum(1 for s in drawn["spans"] if not s["hit"]) == 20
    assert any(s["ms"] == 50.0 for s in drawn["spans"])


def test_histogram_bins_hold_every_request() -> None:
    values = [12.0, 13.5, 14.0, 30.0, 31.0, 95.0, 96.5, 250.0]
    hist = chart_data.histogram(values)
    assert sum(hist["counts"]) == len(values)
    assert len(hist["edges"]) == len(hist["counts"]) + 1
    assert hist["edges"][0] <= min(values) and hist["edges"][-1] > max(values)
    same = chart_data.histogram([5.0, 5.0, 5.0])
    assert sum(same["counts"]) == 3 and same["edges"][0] <= 5.0 < same["edges"][-1]
    assert chart_data.histogram([]) == {"edges": [], "counts": [], "n": 0, "decimals": 0}


def test_no_traces_no_findings_still_renders() -> None:
    page = html_report.render_page(Analysis(findings=[], endpoints=[]))
    assert "No findings" in page and "No requests captured." in page


def test_a_finding_without_endpoint_or_trace_has_no_waterfall() -> None:
    finding = Finding("no-connection-reuse", "info", "t", None, Location("a.py", 1, "f"), {}, "fix")
    stats = EndpointStats("GET /x", 1, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0)
    page = html_report.render_page(Analysis(findings=[finding], endpoints=[stats]))
    assert 'class="waterfall-chart"' not in page
    assert '<section id="findings">' in page


def test_a_bad_compare_file_is_a_one_line_error(demo_traces: Path, tmp_path: Path) -> None:
    bad = tmp_path / "compare.json"
    bad.write_text('{"tool": "perfdoctor bench"}', encoding="utf-8")
    run = run_perfdoctor(
        "report",
        "--traces",
        str(demo_traces),
        "--format",
        "html",
        "-o",
        str(tmp_path / "r.html"),
        "--compare",
        str(bad),
    )
    assert run.returncode == 2
    assert (
        run.stderr.startswith("perfdoctor: error: ") and len(run.stderr.strip().splitlines()) == 1
    )
    assert not (tmp_path / "r.html").exists()


def test_chart_data_is_json_the_browser_parses() -> None:
    text = chart_data.script_json({"a": float("nan"), "b": [float("inf"), 1.5], "c": "</script>"})
    assert json.loads(text) == {"a": None, "b": [None, 1.5], "c": "</script>"}
    assert "<" not in text and ">" not in text

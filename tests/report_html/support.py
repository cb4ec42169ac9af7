"""What the HTML report tests share: a real demo run reported as HTML, and hand-made
traces for what the demo cannot show (hostile statements, huge traces)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfdoctor.model import Finding, Location, Span, Trace
from tests.compare.samples import endpoint, finding, latencies, result, write
from tests.conftest import run_perfdoctor

# Limits for two demo endpoints, one broken: the report's budget table has both kinds.
BUDGETS = """[tool.perfdoctor.budgets]
"GET /articles" = { p95_ms = 5, max_queries = 10 }
"GET /articles/fixed" = { p95_ms = 10000, max_queries = 10 }
"""

HOSTILE = "SELECT '</script><script>window.pwned = 1</script><!--' AS x FROM t WHERE a < 1 && b > 2"


@dataclass
class Report:
    path: Path
    html: str
    traces: Path
    compare: Path | None

    def data(self) -> dict[str, Any]:
        """The chart data the page carries, read back as the browser would."""
        match = re.search(
            r'<script type="application/json" id="perfdoctor-data">(.*?)</script>', self.html, re.S
        )
        assert match, "no chart data block"
        parsed: dict[str, Any] = json.loads(match.group(1))
        return parsed


def compare_result(folder: Path) -> Path:
    """A real `perfdoctor compare --format json` of two bench results: GET /articles
    got faster and lost its N+1, GET /authors/{author_id} did not change, a warning appeared."""
    n_plus_one = finding("n-plus-one-query", "GET /articles", "error", 94)
    new_warning = finding("duplicate-query", "GET /authors/{author_id}", "warning", 132)
    before = result(
        {
            "GET /articles": endpoint(latencies(1, median_ms=180.0), queries=56.0),
            "GET /authors/{author_id}": endpoint(latencies(2, median_ms=25.0), queries=7.0),
        },
        [n_plus_one],
    )
    after = result(
        {
            "GET /articles": endpoint(latencies(3, median_ms=25.0), queries=2.0),
            "GET /authors/{author_id}": endpoint(latencies(4, median_ms=25.0), queries=7.0),
        },
        [new_warning],
    )
    run = run_perfdoctor(
        "compare",
        write(folder / "before.json", before),
        write(folder / "after.json", after),
        "--format",
        "json",
        "--seed",
        "1",
    )
    # Exit 1: the new finding is only a warning, but compare's exit code is not the point.
    assert run.stdout, run.stderr
    path = folder / "compare.json"
    path.write_text(run.stdout, encoding="utf-8")
    return path


def html_report(traces: Path, folder: Path, compare: Path | None = None) -> Report:
    """`perfdoctor report --format html` run as a user runs it, in a project with budgets."""
    (folder / "pyproject.toml").write_text(BUDGETS, encoding="utf-8")
    out = folder / "report.html"
    args = ["report", "--traces", str(traces), "--format", "html", "-o", str(out)]
    if compare is not None:
        args += ["--compare", str(compare)]
    run = run_perfdoctor(*args, cwd=folder)
    assert run.returncode == 0, run.stderr
    assert "wrote html report" in run.stderr
    return Report(out, out.read_text(encoding="utf-8"), traces, compare)


def db_span(start: float, statement: str, line: int, ms: float = 0.5) -> Span:
    return Span(
        kind="db",
        start_ms=start,
        duration_ms=ms,
        location=Location("app/views.py", line, "index"),
        system="sqlite",
        statement=statement,
        fingerprint=f"fp-{statement[:40]}",
    )


def huge_trace(spans: int = 5000) -> Trace:
    """A request that ran ``spans`` queries: every tenth one the N+1 of a finding."""
    made = [
        db_span(
            i * 0.2,
            "SELECT * FROM tag WHERE id = ?" if i % 10 == 0 else f"SELECT {i}",
            42 if i % 10 == 0 else 7,
            0.1,
        )
        for i in range(spans)
    ]
    return Trace(
        id="huge",
        name="GET /huge",
        kind="http",
        started_at=0.0,
        duration_ms=spans * 0.2 + 5,
        status=200,
        spans=made,
    )


def hostile_trace() -> Trace:
    return Trace(
        id="hostile",
        name="GET /search</script>",
        kind="http",
        started_at=0.0,
        duration_ms=12.0,
        status=200,
        spans=[db_span(1.0, HOSTILE, 9, 3.0), db_span(5.0, "SELECT 1", 10, 1.0)],
    )


def finding_for(trace: Trace, statement: str, line: int, **extra: Any) -> Finding:
    return Finding(
        id="n-plus-one-query",
        severity="error",
        title=f"N+1 queries on {trace.name} <b>not bold</b>",
        endpoint=trace.name,
        location=Location("app/views.py", line, "index"),
        evidence={"count": 500, "total_ms": 50.0, "statement": statement, **extra},
        fix="Load them in one query </script> & move on.",
        trace_id=trace.id,
    )

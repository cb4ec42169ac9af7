"""n-plus-one-query on the traces of a real Flask + SQLAlchemy app (corpus_app.py),
captured by ``perfdoctor run``: only loops are N+1s, small loops when the shape
proves them, a sequence of queries per row is one finding, and the loop's whole
time is what it costs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from perfdoctor import store
from perfdoctor.analysis.analyze import Analysis, analyze
from perfdoctor.model import TEST_REQUEST, Finding
from perfdoctor.report.evidence import evidence_numbers, evidence_texts
from perfdoctor.settings import Settings
from tests.conftest import run_perfdoctor

CORPUS = Path(__file__).with_name("corpus_app.py")
SOURCE = CORPUS.read_text().splitlines()


def line_in(function: str, text: str) -> int:
    """The first line of ``function`` in corpus_app.py that holds ``text``."""
    start = SOURCE.index(next(s for s in SOURCE if s.startswith(f"def {function}(")))
    return next(n for n in range(start, len(SOURCE)) if text in SOURCE[n]) + 1


def capture(traces: Path) -> Analysis:
    result = run_perfdoctor("run", "--traces", str(traces), "--", sys.executable, str(CORPUS))
    assert result.returncode == 0, result.stderr
    return analyze(store.load_traces(traces), Settings())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Analysis, Analysis]:
    """The corpus captured twice (fingerprints must not change between runs)."""
    folder = tmp_path_factory.mktemp("corpus")
    return capture(folder / "one.db"), capture(folder / "two.db")


@pytest.fixture(scope="module")
def analysis(runs: tuple[Analysis, Analysis]) -> Analysis:
    return runs[0]


def n_plus_ones(analysis: Analysis, endpoint: str) -> list[Finding]:
    return [f for f in analysis.findings if f.id == "n-plus-one-query" and f.endpoint == endpoint]


def test_the_loop_time_includes_the_python_between_the_queries_and_ranks(
    analysis: Analysis,
) -> None:
    [heavy] = n_plus_ones(analysis, "n+1 heavy-rows")
    [light] = n_plus_ones(analysis, "n+1 light-rows")
    # The same 12 lazy loads; one loop builds a costly object per row.
    assert heavy.evidence["count"] == light.evidence["count"] == 12
    assert heavy.evidence["loop_ms"] > heavy.evidence["total_ms"]
    order = [f.endpoint for f in analysis.findings]
    assert order.index("n+1 heavy-rows") < order.index("n+1 light-rows")
    shown = evidence_numbers(heavy.evidence)
    assert any(s.startswith("loop time per request: ") for s in shown)
    assert any(s.startswith("time per request: ") for s in shown)


@pytest.mark.parametrize(
    "name, rows, function",
    [("rows-3", 3, "rows"), ("rows-4", 4, "rows"), ("teaser-3", 3, "first_rows_of_a_page")],
)
def test_a_small_loop_over_the_parents_rows_is_an_n_plus_one(
    analysis: Analysis, name: str, rows: int, function: str
) -> None:
    [finding] = n_plus_ones(analysis, f"n+1 {name}")
    assert finding.evidence["count"] == rows
    assert finding.evidence["parent_statement"].startswith("SELECT article.id")
    assert finding.location is not None
    assert finding.location.line == line_in(function, "print(article.author.name")
    assert finding.evidence["loop"]["line"] == line_in(function, "for article in")


def test_below_the_proof_threshold_or_without_a_parent_the_default_holds(
    analysis: Analysis,
) -> None:
    # Two rows: under n_plus_one_proven_min_repeats.
    assert n_plus_ones(analysis, "n+1 rows-2") == []
    # Three lookups by ids the request gave: no parent query fetched them.
    assert n_plus_ones(analysis, "n+1 ids-3") == []
    assert len(n_plus_ones(analysis, "n+1 ids-5")) == 1


def test_a_helper_reached_from_separate_lines_is_no_n_plus_one(analysis: Analysis) -> None:
    assert n_plus_ones(analysis, "clean helper-lines") == []
    assert n_plus_ones(analysis, "clean compare-pair") == []
    # The same helper line, reached from one line in a loop, is one.
    [finding] = n_plus_ones(analysis, "n+1 helper-loop-5")
    assert finding.location is not None
    assert finding.location.line == line_in("get_author", "return session.get(")
    assert finding.evidence["loop"]["line"] == line_in("helper_in_a_loop", "for article in")


def test_requests_in_one_test_are_counted_per_request(analysis: Analysis) -> None:
    for n in (3, 5):
        assert n_plus_ones(analysis, f"clean requests-{n}") == []


def test_each_request_in_a_test_trace_is_marked(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    capture(traces)
    [test] = [t for t in store.load_traces(traces) if t.name == "clean requests-5"]
    marks = [s for s in test.spans if s.kind == TEST_REQUEST]
    assert len(marks) == 5
    assert all(m.attrs == {"method": "GET"} for m in marks)
    # Each request's query sits inside its own mark.
    queries = test.db_spans()
    assert len(queries) == 5
    assert all(m.start_ms <= q.start_ms <= m.end_ms for m, q in zip(marks, queries, strict=True))


def test_pages_and_the_fix_are_no_n_plus_one(analysis: Analysis) -> None:
    for name in ("clean pages-3", "clean pages-5", "clean fixed-10", "clean flags-3"):
        assert n_plus_ones(analysis, name) == [], name


def test_a_sequence_of_queries_per_row_is_linked_as_one_loop(analysis: Analysis) -> None:
    found = n_plus_ones(analysis, "n+1 sequence-4")
    lines = [
        line_in("sequence", "author = article.author.name"),
        line_in("sequence", "tag_names = [t.name for t in article.tags]"),
        line_in("sequence", "comments = session.scalar("),
    ]
    # One finding per query, each at its own line with its own fix...
    assert sorted(f.location.line for f in found if f.location) == lines
    by_line = {f.location.line: f for f in found if f.location}
    assert "FROM author" in by_line[lines[0]].evidence["statement"]
    assert "count(comment.id)" in by_line[lines[2]].evidence["statement"]
    # ...linked: the same sequence, its place in it, every query of it.
    sequences = [f.evidence["sequence"] for f in found]
    assert len({s["id"] for s in sequences}) == 1
    assert sorted(s["position"] for s in sequences) == [1, 2, 3]
    for finding in found:
        sequence = finding.evidence["sequence"]
        assert sequence["repeats"] == 4
        assert [s["line"] for s in sequence["steps"]] == lines
        assert all(
            s["count"] == 4 and s["path"].endswith("corpus_app.py") for s in sequence["steps"]
        )
        # The cost is the whole loop's, all three queries and the Python between.
        assert finding.evidence["loop_ms"] >= sequence["total_ms"]
    author = by_line[lines[0]]
    assert "query 1 of 3 per row (sequence " in " ".join(evidence_numbers(author.evidence))
    labels = [label for label, _ in evidence_texts(author.evidence)]
    steps = author.evidence["sequence"]["steps"]
    assert f"query 2 of 3 per row at {steps[1]['path']}:{lines[1]}" in labels
    assert f"query 3 of 3 per row at {steps[2]['path']}:{lines[2]}" in labels
    [six] = {f.evidence["sequence"]["repeats"] for f in n_plus_ones(analysis, "n+1 sequence-6")}
    assert six == 6


def test_separate_loops_are_no_sequence(analysis: Analysis) -> None:
    for name in ("n+1 rows-10", "n+1 heavy-rows", "n+1 helper-loop-5"):
        assert all("sequence" not in f.evidence for f in n_plus_ones(analysis, name)), name


def test_fingerprints_are_stable_across_runs(runs: tuple[Analysis, Analysis]) -> None:
    one, two = (
        {(f.endpoint, f.fingerprint) for f in a.findings if f.id == "n-plus-one-query"}
        for a in runs
    )
    assert one == two
    assert sum(endpoint == "n+1 sequence-4" for endpoint, _ in one) == 3
    ids = [
        {f.evidence["sequence"]["id"] for f in a.findings if f.endpoint == "n+1 sequence-4"}
        for a in runs
    ]
    assert ids[0] == ids[1] and len(ids[0]) == 1

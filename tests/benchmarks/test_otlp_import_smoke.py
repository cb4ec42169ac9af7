"""benchmarks/otlp_import.py runs end to end on a small file: no timing asserted,
the figures live in benchmarks/RESULTS.md."""

from __future__ import annotations

from tests.benchmarks import run_json


def test_quick_run_imports_every_span_of_the_generated_file() -> None:
    data = run_json("otlp_import.py", "--requests", "12", "--queries", "5", "--runs", "1")
    assert data["spans"] == 12 * (1 + 5 + 3)
    names = [r["name"] for r in data["results"]]
    assert names == [
        "floor: json.loads",
        "OpenTelemetry classes: from_json",
        "perfdoctor import otlp",
    ]
    assert all(r["median_s"] > 0 for r in data["results"])

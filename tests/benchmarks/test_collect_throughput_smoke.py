"""benchmarks/collect_throughput.py runs end to end on a few requests."""

from __future__ import annotations

from tests.benchmarks import run_json


def test_quick_run_stores_every_trace_in_both_encodings() -> None:
    data = run_json("collect_throughput.py", "--requests", "12", "--queries", "5", "--clients", "2")
    assert data["spans"] == 12 * (1 + 5 + 3)
    assert [r["encoding"] for r in data["results"]] == [
        "application/x-protobuf",
        "application/json",
    ]
    for r in data["results"]:
        assert f"received {data['spans']} spans" in r["receiver_said"]
        assert "wrote 12 traces" in r["receiver_said"]

"""``perfdoctor.instrument(memory=True)`` in-process: a job's peak and its allocation site."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import perfdoctor
from perfdoctor.analyze import analyze
from perfdoctor.capture.response import summarize_json
from perfdoctor.settings import Settings
from tests.inprocess import load


def build_export() -> int:
    buffer = bytearray(60 * 1024 * 1024)  # the export, whole
    for _ in range(20):
        time.sleep(0.003)
    return len(buffer)


def test_instrument_memory_records_the_peak_and_the_site(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    perfdoctor.instrument(traces, memory=True)
    try:
        with perfdoctor.trace("nightly-export"):
            build_export()
        with perfdoctor.trace("small-job"):
            bytes(1024)
    finally:
        perfdoctor.uninstrument()
    assert not tracemalloc.is_tracing()  # stopped with capture: it slows everything
    by_name = {t.name: t for t in load(traces)}
    memory = by_name["nightly-export"].attrs["memory"]
    assert memory["peak_kb"] >= 60 * 1024
    site = memory["top"][0]
    assert Path(site["path"]) == Path(__file__).resolve()
    assert site["line"] == build_export.__code__.co_firstlineno + 1
    assert by_name["small-job"].attrs["memory"]["peak_kb"] < 1024

    [finding] = [f for f in analyze(load(traces), Settings()).findings if f.id == "high-memory"]
    assert finding.severity == "warning"  # over 50 MB, under the 100 MB budget
    assert finding.endpoint == "nightly-export"
    assert finding.location is not None and finding.location.line == site["line"]


def test_summarize_json_counts_lists_and_envelopes() -> None:
    assert summarize_json(b"[1, 2, 3]") == {"items": 3, "paginated": False}
    assert summarize_json(b'{"results": [1], "next": null, "count": 9}') == {
        "items": 1,
        "paginated": True,
    }
    assert summarize_json(b'{"data": [1, 2]}') == {"items": 2, "paginated": False}
    assert summarize_json(b'{"articles": [1, 2]}') == {"items": 2, "paginated": False}
    assert summarize_json(b'{"id": 1, "tags": [1, 2]}') == {}
    assert summarize_json(b"not json") == {}
    assert summarize_json(b"") == {}

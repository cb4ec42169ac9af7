"""``perfdoctor.instrument(memory=True)`` in-process: a job's peak and its allocation site."""

from __future__ import annotations

import threading
import time
import tracemalloc
from pathlib import Path

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.capture.context import ActiveTrace
from perfdoctor.capture.memory import MemoryTracker
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


def test_a_request_is_timed_from_when_the_sites_of_the_last_are_read() -> None:
    # A client sends its next request as soon as it has a response, while the
    # sampler may still be reading the last request's allocation sites: seconds
    # of snapshot work that would be timed as the new request's own.
    tracker = MemoryTracker(sites_min_kb=50 * 1024, interval_ms=5.0)
    tracker.start()
    try:
        with tracker._lock:
            tracker._reading = True
        read_at: list[float] = []

        def finish_reading() -> None:
            time.sleep(0.2)
            with tracker._lock:
                read_at.append(time.perf_counter())
                tracker._reading = False
                tracker._sites_read.notify_all()

        reader = threading.Thread(target=finish_reading)
        reader.start()
        trace = ActiveTrace("GET /next", "http")
        sent_at = trace.start
        tracker.request_started(trace)
        reader.join()
        assert trace.start >= read_at[0] > sent_at
        # Nothing in flight: the clock is left as it was.
        idle = ActiveTrace("GET /idle", "http")
        started = idle.start
        tracker.request_started(idle)
        assert idle.start == started
    finally:
        tracker.stop()

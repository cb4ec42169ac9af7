"""What detectors keep in memory after reading a whole store (tracemalloc).

Every chunk of the store is fed to a fresh session of each detector named, the
way ``perfdoctor report`` feeds them; then, after a collection, the memory still
allocated from inside each detector's module is summed (allocations whose
traceback passes through its file: what its session keeps, not the chunks).
The peak while its ``findings()`` runs is measured too.

    python benchmarks/detector_memory.py STORE [STORE...] --detectors ID,ID

Run it with ``PYTHONPATH=<other src>`` to measure another checkout's detectors.

``--synthetic N`` feeds N generated requests instead of a store's, each with
what these detectors keep per request where traffic makes it grow: a read
whose parameters are new in every request (a user's id), a write, a cached
profile read back by another user and, every 10th request, written.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def _synthetic(count: int, size: int) -> Iterator[list[Any]]:
    from perfdoctor.fingerprint import normalize
    from perfdoctor.model import Location, Span, Trace

    here = Location("/srv/app/views.py", 10, "profile")
    read = normalize("SELECT * FROM users WHERE id = 1")
    write = normalize("UPDATE visits SET n = 2")

    def db(shape: Any, at: float, params: str) -> Span:
        return Span(
            kind="db", start_ms=at, duration_ms=12.0, location=here, stack=[here],
            framework="django", system="postgresql", statement=shape.statement,
            fingerprint=shape.fingerprint, params_digest=params, rows=1,
        )  # fmt: skip

    def cache(op: str, value: str, at: float, **attrs: Any) -> Span:
        attrs.update(op=op, key="profile", key_digest="k1", value_digest=value)
        return Span(
            kind="cache", start_ms=at, duration_ms=0.1, location=here, stack=[here],
            system="redis", attrs=attrs,
        )  # fmt: skip

    for start in range(0, count, size):
        chunk = []
        for i in range(start, min(count, start + size)):
            user = f"user{i % 1000}"
            writer = f"user{i - i % 10}"
            spans = [db(read, 1.0, f"id-{i}"), db(write, 14.0, "w")]
            if i % 10:
                spans.append(cache("get", f"profile-{writer}", 0.5, hit=True))
            else:
                spans.append(cache("set", f"profile-{user}", 0.5))
            trace = Trace(
                id=f"{i:032x}", name="GET /profile", kind="http",
                started_at=1_700_000_000.0 + i, duration_ms=30.0, status=200,
                spans=spans, attrs={"user": user, "authenticated": True},
            )  # fmt: skip
            chunk.append(trace)
        yield chunk


def _measure(store: Path | int, detector_id: str) -> tuple[int, int, int, int]:
    """(bytes kept after feeding, peak bytes during findings(), findings, traces)."""
    import perfdoctor.detectors as registry
    from perfdoctor.analysis import pertrace
    from perfdoctor.settings import Settings
    from perfdoctor.store import chunks

    [detector] = [d for d in registry.all_detectors() if d.id == detector_id]
    module_file = sys.modules[type(detector).__module__].__file__ or ""
    settings = Settings()
    traces = 0
    source: Iterable[list[Any]]
    if isinstance(store, int):
        source = _synthetic(store, settings.analysis_chunk_traces)
    else:
        reading = chunks.read(store, settings.analysis_chunk_traces)
        source = reading.chunks()
    gc.collect()
    tracemalloc.start(12)
    session = detector.session(settings)
    for chunk in source:
        traces += len(chunk)
        session.feed(chunk)
        chunk.clear()
        pertrace.forget()  # as the analysis does after each chunk
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(True, module_file, all_frames=True)]
    )
    kept = sum(stat.size for stat in snapshot.statistics("filename"))
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()
    found = session.findings()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return kept, peak - before, len(found), traces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", nargs="*", type=Path)
    parser.add_argument("--detectors", default="cache-candidate,cache-shared-key")
    parser.add_argument("--synthetic", type=int, action="append", default=[], metavar="N")
    args = parser.parse_args()
    print("| store | detector | traces | kept after feeding | peak in findings() | findings |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for store in [*args.stores, *args.synthetic]:
        name = store.name if isinstance(store, Path) else f"{store:,} generated requests"
        for detector_id in args.detectors.split(","):
            kept, peak, found, traces = _measure(store, detector_id)
            print(
                f"| {name} | {detector_id} | {traces:,} | {kept / 1e6:.2f} MB "
                f"| {peak / 1e6:.2f} MB | {found} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

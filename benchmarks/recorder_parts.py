"""Where the recorder thread's CPU goes, per query, in one process.

Serves ``--requests`` back-to-back requests of 40 queries (the workloads of
``capture_overhead.py``, perfdoctor on, traces handed to the recorder as under
``perfdoctor run``), with the recorder's functions timed by the calling
thread's CPU clock (no profiler: a thread-CPU profiler's clock reads inflate
them), then flushes::

    python benchmarks/recorder_parts.py --library django --requests 3000

"other threads" is the process's CPU minus the request thread's: the recorder's
(its final flush included).  Compare trees by running it under each
(``PYTHONPATH=OTHER/src``).
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import capture_overhead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--library", choices=("sqlite3", "sqlalchemy", "django"), default="sqlalchemy"
    )
    parser.add_argument("--requests", type=int, default=4000)
    args = parser.parse_args()
    tracing = capture_overhead.PerfdoctorTracing(Path(tempfile.mkdtemp(prefix="pd-parts-")))
    workload = capture_overhead.WORKLOADS[args.library]("perfdoctor")
    around = tracing.request if workload.own_trace else tracing.block
    from perfdoctor import store
    from perfdoctor.capture import encode, recorder

    spent: collections.Counter[str] = collections.Counter()

    def timed(owner: Any, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            cpu0 = time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[label] += time.thread_time() - cpu0

        setattr(owner, name, wrapper)

    timed(recorder.Recorder, "_work", "_work (all)")
    timed(recorder.Recorder, "_encode_queued", "_encode_queued")
    timed(encode.Encoder, "add", "Encoder.add")
    timed(recorder.Recorder, "_write_next", "_write_next")
    timed(recorder.store, "write_batch", "store.write_batch")
    timed(recorder.retention.Retention, "after_write", "retention")
    assert recorder.store is store
    process0 = time.process_time()
    requests_cpu = 0.0
    for i in range(args.requests):
        cpu0 = time.thread_time()
        with around():
            workload.block(40, i * 40)
        requests_cpu += time.thread_time() - cpu0
    tracing.settle()
    queries = args.requests * 40
    others = time.process_time() - process0 - requests_cpu
    parts = ", ".join(f"{k} {v * 1e6 / queries:.2f}" for k, v in spent.most_common())
    print(f"{args.library}: other threads {others * 1e6 / queries:.2f} µs CPU/query; {parts}")


if __name__ == "__main__":
    main()

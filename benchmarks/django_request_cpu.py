"""What capture costs a Django project's own pages, per request, in CPU: the
request thread's and the whole process's (the recorder's encoding and writing
included), measured in one process with capture switched off and on in
alternating blocks, so drift on a noisy machine hits every mode alike.

    python benchmarks/django_request_cpu.py --project ~/src/healthchecks \\
        --settings hc.settings --path /projects/<uuid>/checks/ --cookie sessionid=<key>

Modes, per block of ``--requests`` GETs through Django's test client:

* ``off``: the app's code as it is (perfdoctor's patches in place, capture off);
* ``nowriter``: capture on, each finished trace dropped (the request thread's share);
* ``writer``: capture on, traces encoded and written by the recorder, flushed
  at the end of the block (everything perfdoctor costs).

Printed per path: the median over blocks of CPU ms per request, per mode, and
the differences from ``off``.  Wall time is not reported: on a shared machine it
moves with everything else, CPU time much less.  The cyclic garbage collector is
paused during a block and run between blocks (``--gc`` leaves it on): a full
collection of a Django process costs milliseconds and lands in whichever block
it falls in, more than the differences measured here.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODES = ("off", "nowriter", "writer")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", required=True, help="folder the project imports from")
    parser.add_argument("--settings", required=True, help="DJANGO_SETTINGS_MODULE")
    parser.add_argument("--path", action="append", required=True, help="GET this (repeatable)")
    parser.add_argument("--cookie", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--blocks", type=int, default=8, help="blocks per mode")
    parser.add_argument("--requests", type=int, default=15, help="requests per block")
    parser.add_argument("--gc", action="store_true", help="leave the collector on in blocks")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(args.project).resolve()))
    os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="perfdoctor-request-cpu-") as folder:
        results = _measure(args, Path(folder) / "traces.db")
    summary = {
        "command": " ".join(["python", "benchmarks/django_request_cpu.py", *sys.argv[1:]]),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "results": results,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"CPU ms per request, medians of {args.blocks} blocks of {args.requests}")
    print(f"{'path':48} {'mode':9} {'thread':>8} {'+thread':>8} {'process':>8} {'+process':>9}")
    for result in results:
        off = result["modes"]["off"]
        for mode in MODES:
            row = result["modes"][mode]
            extra = ""
            if mode != "off":
                extra = (
                    f"{row['thread_ms'] - off['thread_ms']:>+8.3f} {row['process_ms']:>8.3f} "
                    f"{row['process_ms'] - off['process_ms']:>+9.3f}"
                )
            else:
                extra = f"{'':>8} {row['process_ms']:>8.3f}"
            print(f"{result['path'][:48]:48} {mode:9} {row['thread_ms']:>8.3f} {extra}")
    return 0


def _measure(args: argparse.Namespace, store: Path) -> list[dict[str, Any]]:
    import perfdoctor

    perfdoctor.instrument(store)
    import django

    django.setup()
    from django.test import Client

    from perfdoctor.capture import auto, context

    client = Client()
    for cookie in args.cookie:
        name, _, value = cookie.partition("=")
        client.cookies[name] = value
    recorder = auto._recorder
    submit = context.state.on_finish

    def drop(trace: object) -> None:
        pass

    def block(path: str, mode: str, requests: int) -> tuple[float, float]:
        context.state.enabled = mode != "off"
        context.state.on_finish = submit if mode == "writer" else drop
        if not args.gc:
            gc.collect()
            gc.disable()
        thread0, process0 = time.thread_time(), time.process_time()
        for _ in range(requests):
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"GET {path}: {response.status_code}")
        thread = time.thread_time() - thread0
        if mode == "writer" and recorder is not None:
            recorder.flush()
        process = time.process_time() - process0
        gc.enable()
        return thread * 1000 / requests, process * 1000 / requests

    results = []
    for path in args.path:
        for mode in MODES:  # warm caches, remembered call sites, the store's schema
            block(path, mode, 3)
        samples: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
        for index in range(args.blocks):
            order = MODES if index % 2 else tuple(reversed(MODES))
            for mode in order:
                samples[mode].append(block(path, mode, args.requests))
        results.append(
            {
                "path": path,
                "modes": {
                    mode: {
                        "thread_ms": statistics.median(t for t, _ in values),
                        "process_ms": statistics.median(p for _, p in values),
                    }
                    for mode, values in samples.items()
                },
            }
        )
    context.state.enabled = True
    context.state.on_finish = submit
    return results


if __name__ == "__main__":
    sys.exit(main())

"""How many spans a second does ``perfdoctor collect`` take into the store?

    python benchmarks/collect_throughput.py [--requests 1000] [--queries 40] [--clients 4]

The spans are those of benchmarks/otlp_import.py (a SERVER span per request, its
queries and outbound calls, 512 spans a request as the SDK's batch processor
sends them), posted as OTLP protobuf and then as OTLP JSON, by ``--clients``
threads on kept-alive connections, to a receiver started as a user starts it
(``perfdoctor collect``, its own process, a fresh store).  A 429 is honoured
(wait Retry-After, send again), as an exporter does.  The time runs from the
first request to the receiver's exit after SIGTERM, so every span is in the store.
The receiver's peak RSS (``VmHWM``, read just before SIGTERM) shows whether its
memory follows the volume sent or its queue's bound: run with more ``--requests``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from otlp_import import write_file


def _protobuf(line: str) -> bytes:
    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    value = json.loads(line)
    for resource in value["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    message = ParseDict(value, ExportTraceServiceRequest())
    data: bytes = message.SerializeToString()
    return data


def _send(url: str, bodies: list[bytes], content_type: str, refused: list[int]) -> None:
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname or "", where.port)
    for data in bodies:
        while True:
            conn.request("POST", where.path, data, {"Content-Type": content_type})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                break
            if response.status not in (429, 503):
                raise SystemExit(f"the receiver answered {response.status}")
            refused.append(1)
            conn.close()
            time.sleep(float(response.getheader("Retry-After") or 1))
    conn.close()


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def run(
    bodies: list[bytes], content_type: str, spans: int, clients: int, sample: str = "1"
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "traces.db"
        command = [sys.executable, "-m", "perfdoctor", "collect", "--listen", "127.0.0.1:0"]
        command += ["--sample", sample]
        receiver = subprocess.Popen(
            [*command, "--traces", str(store)], stdout=subprocess.PIPE, text=True, cwd=folder
        )
        assert receiver.stdout is not None
        url = receiver.stdout.readline().split(" on ")[1].split()[0]
        refused: list[int] = []
        shares = [bodies[i::clients] for i in range(clients)]
        threads = [
            threading.Thread(target=_send, args=(url, share, content_type, refused))
            for share in shares
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        peak_mb = _peak_rss_mb(receiver.pid)
        receiver.send_signal(signal.SIGTERM)
        last = receiver.communicate()[0]
        seconds = time.perf_counter() - start
    return {
        "encoding": content_type,
        "sample": sample,
        "spans": spans,
        "seconds": round(seconds, 2),
        "spans_per_s": round(spans / seconds),
        "refused_429": len(refused),
        "receiver_peak_rss_mb": peak_mb,
        "receiver_said": last.strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--sample",
        action="append",
        metavar="RATE",
        help="collect --sample RATE; repeat to compare rates in one run (default: 1)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spans.jsonl"
        spans = write_file(path, args.requests, args.queries)
        lines = path.read_text(encoding="utf-8").splitlines()
    protobuf = [_protobuf(line) for line in lines]
    json_bodies = [line.encode() for line in lines]
    results = []
    for rate in args.sample or ["1"]:
        results.append(run(protobuf, "application/x-protobuf", spans, args.clients, rate))
        results.append(run(json_bodies, "application/json", spans, args.clients, rate))
    print(json.dumps({"spans": spans, "results": results}, indent=2))


if __name__ == "__main__":
    main()

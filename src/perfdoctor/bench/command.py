"""``perfdoctor bench``: the command's body (options are parsed in :mod:`perfdoctor.cli`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from perfdoctor.bench.run import Plan, bench
from perfdoctor.bench.spec import load_app, parse_duration, parse_endpoint
from perfdoctor.errors import UsageError


def run_bench(
    *,
    app_ref: str | None,
    url: str | None,
    endpoints: tuple[str, ...],
    requests: int,
    concurrency: int,
    rate: float | None,
    duration: str,
    warmup: int,
    memory: bool,
    output: str | None,
    stream: TextIO,
    engine: str = "builtin",
    workers: int = 2,
) -> dict[str, Any]:
    if (app_ref is None) == (url is None):
        raise UsageError("give exactly one of --app module:attr (in-process) or --url http://...")
    if not endpoints:
        raise UsageError("give at least one --endpoint 'METHOD /path'")
    if requests < 1 or concurrency < 1 or warmup < 0 or (rate is not None and rate <= 0):
        raise UsageError("--requests and --concurrency must be >= 1, --warmup >= 0, --rate > 0")
    parsed = [parse_endpoint(e) for e in endpoints]
    if len({e.name for e in parsed}) != len(parsed):
        raise UsageError("each --endpoint may be given once")
    if engine == "locust" and url is None:
        raise UsageError("--engine locust drives a server over HTTP: give --url, not --app")
    if workers < 1:
        raise UsageError("--workers must be >= 1")
    seconds = parse_duration(duration) if rate is not None or engine == "locust" else None
    if rate is not None and seconds is not None and engine == "builtin":
        requests = max(1, round(rate * seconds))
    plan = Plan(parsed, requests, concurrency, rate, warmup)
    settings: dict[str, Any] = {
        "requests_per_endpoint": requests,
        "concurrency": concurrency,
        "rate_per_endpoint": rate,
        "duration_s": seconds,
        "warmup_per_endpoint": warmup,
        "memory": memory,
        "app": app_ref,
        "url": url,
    }
    if engine == "locust":
        # Locust runs for a duration, not a request count.
        settings["requests_per_endpoint"] = None
    app = load_app(app_ref) if app_ref is not None else None
    console = Console(file=stream)
    total = requests * len(parsed)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(engine, total=None if engine == "locust" else total)
        if engine == "locust" and url is not None and seconds is not None:
            from perfdoctor.bench.locust_engine import bench_locust

            result = bench_locust(plan, url, seconds, workers, lambda: bar.advance(task), settings)
        else:
            result = bench(
                plan,
                app=app,
                url=url,
                memory=memory,
                progress=lambda: bar.advance(task),
                settings=settings,
            )
    _render(result, console, rate is not None and engine == "builtin")
    if output is not None:
        Path(output).write_text(json.dumps(result, indent=1) + "\n")
        console.print(f"results saved to {output}")
    return result


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _render(result: dict[str, Any], console: Console, fixed_rate: bool) -> None:
    table = Table(title=f"perfdoctor bench ({result['mode']}, {result['engine']})")
    table.add_column("endpoint", no_wrap=True)
    for column in ("req", "err", "p50 ms", "p95 ms", "p99 ms", "max ms", "q/req", "mem KB"):
        table.add_column(column, justify="right")
    for name, row in result["endpoints"].items():
        table.add_row(
            name,
            str(row["requests"]),
            str(row["errors"]),
            _num(row["p50_ms"]),
            _num(row["p95_ms"]),
            _num(row["p99_ms"]),
            _num(row["max_ms"]),
            _num(row["queries_per_request"], 1),
            _num(row["memory_peak_kb"], 0),
        )
    console.print(table)
    if fixed_rate:
        console.print(
            "Fixed arrival rate: latency is measured from each request's intended start "
            "time (corrected for coordinated omission)."
        )
    for finding in result["findings"]:
        location = finding.get("location") or {}
        where = f" at {location['path']}:{location['line']}" if location else ""
        console.print(
            f"[{finding['severity']}] {finding['id']}: {finding['title']} "
            f"({finding['endpoint']}){where}",
            markup=False,
        )

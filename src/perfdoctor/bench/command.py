"""``perfdoctor bench``: the command's body (options are parsed in :mod:`perfdoctor.cli`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table

from perfdoctor.bench.run import Plan, require_driver, summarise
from perfdoctor.bench.spec import check_app_ref, parse_duration, parse_endpoint, parse_header
from perfdoctor.errors import UsageError
from perfdoctor.progress import SILENT, Feedback
from perfdoctor.report.names import MIN_ROOM, name_room, shorten_all


def run_bench(
    *,
    app_refs: tuple[str, ...],
    urls: tuple[str, ...],
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
    rounds: int = 10,
    baseline_ref: str | None = None,
    headers: tuple[str, ...] = (),
    feedback: Feedback = SILENT,
) -> dict[str, Any]:
    """Runs the bench; returns the result document (an interleaved one holds both sides)."""
    if bool(app_refs) == bool(urls):
        raise UsageError(
            "give --app module:attr (in-process) or --url http://... (one kind, not both)"
        )
    targets = app_refs or urls
    if len(targets) > 2 or (baseline_ref is not None and len(targets) != 1):
        raise UsageError(
            "give one --app/--url, two to compare them interleaved (before, then after), "
            "or one --app with --baseline-ref"
        )
    if baseline_ref is not None and urls:
        raise UsageError("--baseline-ref serves the old commit's code in-process: give --app")
    if not endpoints:
        raise UsageError("give at least one --endpoint 'METHOD /path'")
    if requests < 1 or concurrency < 1 or warmup < 0 or (rate is not None and rate <= 0):
        raise UsageError("--requests and --concurrency must be >= 1, --warmup >= 0, --rate > 0")
    interleaved = len(targets) == 2 or baseline_ref is not None
    if rounds < 1 or (interleaved and rounds < 3):
        raise UsageError("--rounds must be >= 1 (>= 3 for an interleaved comparison)")
    parsed = [parse_endpoint(e) for e in endpoints]
    if len({e.name for e in parsed}) != len(parsed):
        raise UsageError("each --endpoint may be given once")
    if engine == "locust" and (not urls or interleaved):
        raise UsageError("--engine locust drives one server over HTTP: give one --url")
    if workers < 1:
        raise UsageError("--workers must be >= 1")
    if engine == "locust" and headers:
        raise UsageError("--header is not passed to Locust's users: use --engine builtin")
    for ref in app_refs:
        check_app_ref(ref)
    if output is not None and not Path(output).resolve().parent.is_dir():
        # Checked now, not after the whole run.
        raise UsageError(f"--output {output}: no such folder {Path(output).parent}")
    require_driver()
    seconds = parse_duration(duration) if rate is not None or engine == "locust" else None
    if rate is not None and seconds is not None and engine == "builtin":
        requests = max(1, round(rate * seconds))
    rounds = min(rounds, requests) if engine == "builtin" else 1
    sent = tuple(parse_header(h) for h in headers)
    plan = Plan(parsed, requests, concurrency, rate, warmup, rounds, sent)
    settings: dict[str, Any] = {
        "requests_per_endpoint": requests,
        "concurrency": concurrency,
        "rate_per_endpoint": rate,
        "duration_s": seconds,
        "warmup_per_endpoint": warmup,
        "memory": memory,
        "rounds": rounds,
        # Names only: a header's value is often a credential.
        "headers": [name for name, _ in sent],
        "app": app_refs[0] if app_refs else None,
        "url": urls[0] if urls else None,
    }
    if engine == "locust":
        # Locust runs for a duration, not a request count.
        settings["requests_per_endpoint"] = None
    console = Console(file=stream)
    sides = 2 if interleaved else 1
    label = f"{len(parsed)} endpoint{'' if len(parsed) == 1 else 's'} in {rounds} rounds"
    if interleaved:
        label = f"before and after, interleaved: {label}"
    # Locust runs for a duration: its count has no end to show.
    total = None if engine == "locust" else requests * len(parsed) * sides
    with feedback.counting(f"Benchmarking {label}", total) as advance:
        if engine == "locust" and seconds is not None:
            from perfdoctor.bench.locust_engine import bench_locust

            result = bench_locust(plan, urls[0], seconds, workers, advance, settings)
        elif interleaved:
            result = _interleaved(plan, app_refs, urls, baseline_ref, memory, settings, advance)
        else:
            result = _single(plan, app_refs, urls, memory, settings, advance)
    if interleaved:
        # The comparison that follows is the point; each side's own table is in the JSON.
        for name in ("before", "after"):
            side = result[name]
            console.print(
                f"{name}: {_side_label(side)}, {requests} requests per endpoint in "
                f"{rounds} rounds, {_findings(len(side['findings']))}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    else:
        _render(result, console, rate is not None and engine == "builtin")
    if output is not None:
        try:
            Path(output).write_text(json.dumps(result, indent=1) + "\n")
        except OSError as exc:
            raise UsageError(f"--output {output}: cannot write: {exc}") from None
        console.print(f"results saved to {output}")
    return result


def _single(
    plan: Plan,
    app_refs: tuple[str, ...],
    urls: tuple[str, ...],
    memory: bool,
    settings: dict[str, Any],
    advance: Callable[[], None],
) -> dict[str, Any]:
    from perfdoctor.bench.sides import HTTPSide, Side, run_rounds
    from perfdoctor.bench.worker import WorkerSide, shared_cpu

    side: Side
    if urls:
        side, mode = HTTPSide(plan, urls[0]), "http"
    else:
        # In a worker pinned to one CPU, as each side of an interleaved run: two runs
        # compared later then do not differ by which CPU the scheduler picked.
        side = WorkerSide(plan, app_refs[0], None, memory, "", shared_cpu())
        mode = "inprocess"
    try:
        side.start()
        [outcome] = run_rounds(plan, [side], [0] * plan.rounds, advance)
        facts, findings = side.finish()
    finally:
        side.close()
    return summarise(plan, outcome, facts, mode, settings, findings)


def _interleaved(
    plan: Plan,
    app_refs: tuple[str, ...],
    urls: tuple[str, ...],
    baseline_ref: str | None,
    memory: bool,
    settings: dict[str, Any],
    advance: Callable[[], None],
) -> dict[str, Any]:
    from perfdoctor.bench.baseline import Baseline
    from perfdoctor.bench.sides import HTTPSide, Side, abba, run_rounds
    from perfdoctor.bench.worker import WorkerSide, shared_cpu

    cpu = shared_cpu()
    baseline = Baseline(baseline_ref) if baseline_ref is not None else None
    sides: list[Side] = []
    described: list[dict[str, Any]] = []
    try:
        if urls:
            sides = [HTTPSide(plan, url) for url in urls]
            described = [{"url": url} for url in urls]
        elif baseline is not None:
            sides = [
                WorkerSide(
                    plan,
                    app_refs[0],
                    baseline.root,
                    memory,
                    f"before ({baseline_ref})",
                    cpu,
                    (baseline.tree, baseline.top),
                ),
                WorkerSide(plan, app_refs[0], None, memory, "after (work tree)", cpu),
            ]
            described = [
                {"app": app_refs[0], "ref": baseline_ref, "commit": baseline.commit},
                {"app": app_refs[0], "ref": "work tree"},
            ]
        else:
            sides = [
                WorkerSide(plan, ref, None, memory, label, cpu)
                for ref, label in zip(app_refs, ("before", "after"))
            ]
            described = [{"app": ref} for ref in app_refs]
        for side in sides:
            side.start()
        outcomes = run_rounds(plan, sides, abba(plan.rounds), advance)
        finished = [side.finish() for side in sides]
    finally:
        for side in sides:
            side.close()
        if baseline is not None:
            baseline.close()
    mode = "http" if urls else "inprocess"
    documents = []
    for outcome, (facts, findings), about in zip(outcomes, finished, described):
        document = summarise(plan, outcome, facts, mode, {**settings, **about}, findings)
        documents.append(document)
    return {
        "version": documents[0]["version"],
        "tool": "perfdoctor bench",
        "mode": "interleaved",
        "created": documents[0]["created"],
        "order": ["before" if which == 0 else "after" for which in abba(plan.rounds)],
        "before": documents[0],
        "after": documents[1],
    }


def _findings(count: int) -> str:
    return f"{count} finding{'' if count == 1 else 's'}"


def _side_label(side: dict[str, Any]) -> str:
    settings = side.get("settings") or {}
    what = settings.get("app") or settings.get("url") or ""
    ref = settings.get("ref")
    return f"{what} ({ref})" if ref else str(what)


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _render(
    result: dict[str, Any], console: Console, fixed_rate: bool, title: str | None = None
) -> None:
    rounds = result.get("rounds", 1)
    heading = (
        f"perfdoctor bench ({result['mode']}, {result['engine']}, {rounds} rounds; "
        "latency in ms)"
    )
    rows = list(result["endpoints"].items())

    def build(names: list[str]) -> Table:
        # The report's look: no vertical rules, so nine columns fit 80 with a name.
        table = Table(
            title=title or heading,
            title_justify="left",
            box=box.SIMPLE_HEAD,
            padding=(0, 1),
            show_edge=False,
            pad_edge=False,
        )
        # One line per endpoint: a long name is cut in the middle; a number is never cut.
        table.add_column("endpoint", no_wrap=True)
        for column in ("req", "err", "p50", "p95", "p99", "max", "q/req", "mem KB"):
            table.add_column(column, justify="right", no_wrap=True)
        for name, (_, row) in zip(names, rows):
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
        return table

    room = name_room(build, len(rows), console)
    table = build(shorten_all([name for name, _ in rows], max(room, MIN_ROOM)))
    console.print(table)
    if (
        result["mode"] == "http"
        and result["engine"] == "builtin"  # (Locust's users do not read the header)
        and all(row["queries_per_request"] is None for _, row in rows)
    ):
        console.print(
            "q/req: serve the app under `perfdoctor run --server-timing` for each "
            "request's query count over HTTP.",
            markup=False,
            highlight=False,
        )
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

"""Does ``perfdoctor compare`` tell a real change from noise on a noisy machine?

One command::

    python benchmarks/compare_noise.py              # about 25 minutes on 2 CPUs
    python benchmarks/compare_noise.py --comparisons 8   # a smoke run

The app (``benchmarks/noise/app.py``) is one endpoint of a few SQLite queries and
some Python work. Its two variants are 20% slower on the idle machine: one
sleeps, one does more of the same work (sized here, before anything else runs).

For each machine condition (idle; one CPU-bound neighbour process throughout;
a neighbour that comes and goes) and each method:

- **separate runs**: ``perfdoctor bench --output`` runs, compared afterwards with
  ``perfdoctor compare``. A/A: each run of the unchanged app against the next
  one. Detection: each run of the app against the run of a slower variant made
  right after it. With a neighbour that comes and goes, a seeded coin decides
  for each run whether the neighbour runs during it.
- **interleaved**: one ``perfdoctor bench --app A --app B`` per comparison (A/A:
  the app twice; detection: the app and a slower variant). With a neighbour
  that comes and goes, it runs for 1 s and stops for 1 s throughout.

It prints, per condition and method: the false verdicts of the A/A comparisons
(``faster``/``slower``; goal <= 5%), the false changes of queries per request
(goal 0), the +20% changes called ``slower`` (goal >= 90%), the median noise
and smallest detectable change the comparisons reported. ``--json FILE`` keeps
every comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from perfdoctor.bench.compare import compare, compare_interleaved  # noqa: E402
from perfdoctor.settings import Settings  # noqa: E402

BUSY = "while True: pass"
COMES_AND_GOES = (
    "import time\n"
    "while True:\n"
    "    end = time.monotonic() + 1.0\n"
    "    while time.monotonic() < end: pass\n"
    "    time.sleep(1.0)\n"
)


def calibrate() -> dict[str, str]:
    """Sizes the two slower variants at +20% of the app on this machine, idle."""
    from benchmarks.noise import app as noise

    def page_ms(call: Any, n: int = 300) -> float:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            call()
            times.append((time.perf_counter() - t0) * 1000.0)
        return statistics.median(times)

    base = page_ms(noise._page)
    per_loop = page_ms(lambda: noise.work(100_000), n=30) / 100_000
    return {
        "PERFDOCTOR_NOISE_SLEEP_MS": f"{0.2 * base:.4f}",
        "PERFDOCTOR_NOISE_EXTRA_LOOPS": str(round(0.2 * base / per_loop)),
        "base_ms": f"{base:.3f}",
    }


class Neighbour:
    def __init__(self, script: str | None) -> None:
        self.script = script
        self.process: subprocess.Popen[bytes] | None = None

    def on(self) -> None:
        if self.script is not None and self.process is None:
            self.process = subprocess.Popen([sys.executable, "-c", self.script])

    def off(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def bench(env: dict[str, str], requests: int, out: Path, *apps: str) -> None:
    args = [sys.executable, "-m", "perfdoctor", "bench"]
    for app in apps:
        args += ["--app", f"benchmarks.noise.app:{app}"]
    args += ["--endpoint", "GET /", "--requests", str(requests), "--warmup", "20"]
    args += ["--output", str(out), "--format", "json"]
    subprocess.run(args, cwd=ROOT, env=env, check=False, capture_output=True, timeout=600)


def separate(
    condition: str, n: int, requests: int, env: dict[str, str], work: Path, seed: int
) -> dict[str, list[dict[str, Any]]]:
    """A0 B0 A1 B1 ... An: A/A compares A_i with A_i+1, detection A_i with B_i."""
    settings = Settings()
    rng = random.Random(seed)
    neighbour = Neighbour(BUSY if condition != "idle" else None)
    if condition == "neighbour":
        neighbour.on()
    runs: list[Path] = []
    variants = ["app_sleep", "app_cpu"]
    try:
        for i in range(n + 1):
            for kind in ("app", variants[i % 2]) if i < n else ("app",):
                if condition == "comes and goes":
                    neighbour.on() if rng.random() < 0.5 else neighbour.off()
                out = work / f"sep-{i}-{kind}.json"
                bench(env, requests, out, kind)
                runs.append(out)
                print(".", end="", flush=True)
    finally:
        neighbour.off()
    a_runs = [r for r in runs if r.name.endswith("-app.json")]
    b_runs = [r for r in runs if not r.name.endswith("-app.json")]
    load = lambda p: json.loads(p.read_text())  # noqa: E731
    results: dict[str, list[dict[str, Any]]] = {"aa": [], "sleep": [], "cpu": []}
    for i in range(n):
        results["aa"].append(
            judge_cmp(compare(load(a_runs[i]), load(a_runs[i + 1]), settings, seed=i))
        )
        kind = "sleep" if "sleep" in b_runs[i].name else "cpu"
        results[kind].append(judge_cmp(compare(load(a_runs[i]), load(b_runs[i]), settings, seed=i)))
    return results


def judge_cmp(result: Any) -> dict[str, Any]:
    [row] = result.endpoints
    latency = row.latency
    queries = row.counter("queries")
    return {
        "verdict": row.verdict,
        "pct": None if latency is None else round(latency.pct, 2),
        "noise_pct": None if latency is None else latency.noise_pct,
        "mdc_pct": None if latency is None else latency.mdc_pct,
        "queries_changed": bool(queries is not None and queries.changed),
        "machine": [result.machine["before"], result.machine["after"]],
        "note": None if latency is None else latency.note,
    }


def interleaved(
    condition: str, n: int, requests: int, env: dict[str, str], work: Path
) -> dict[str, list[dict[str, Any]]]:
    settings = Settings()
    script = {"idle": None, "neighbour": BUSY, "comes and goes": COMES_AND_GOES}[condition]
    neighbour = Neighbour(script)
    neighbour.on()
    results: dict[str, list[dict[str, Any]]] = {"aa": [], "sleep": [], "cpu": []}
    try:
        for i in range(n):
            for kind, after in (("aa", "app"), ("sleep" if i % 2 == 0 else "cpu", None)):
                variant = after or ("app_sleep" if kind == "sleep" else "app_cpu")
                out = work / f"int-{i}-{kind}.json"
                bench(env, requests, out, "app", variant)
                data = json.loads(out.read_text())
                results[kind].append(judge_cmp(compare_interleaved(data, settings, seed=i)))
                print(".", end="", flush=True)
    finally:
        neighbour.off()
    return results


def summary(results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    aa = results["aa"]
    changes = results["sleep"] + results["cpu"]
    false = sum(r["verdict"] in ("faster", "slower") for r in aa)
    noise = [r["noise_pct"] for r in aa + changes if r["noise_pct"] is not None]
    mdc = [r["mdc_pct"] for r in aa + changes if r["mdc_pct"] is not None]
    return {
        "aa": len(aa),
        "false_verdicts": false,
        "false_pct": round(100.0 * false / len(aa), 1) if aa else None,
        "cannot_tell_aa": sum(r["verdict"] == "cannot tell" for r in aa),
        "false_query_changes": sum(r["queries_changed"] for r in aa),
        "changes": len(changes),
        "detected": sum(r["verdict"] == "slower" for r in changes),
        "detected_sleep": sum(r["verdict"] == "slower" for r in results["sleep"]),
        "detected_cpu": sum(r["verdict"] == "slower" for r in results["cpu"]),
        "detected_pct": round(
            100.0 * sum(r["verdict"] == "slower" for r in changes) / len(changes), 1
        )
        if changes
        else None,
        "median_noise_pct": round(statistics.median(noise), 1) if noise else None,
        "median_mdc_pct": round(statistics.median(mdc), 1) if mdc else None,
        "aa_abs_change_p95": round(
            sorted(abs(r["pct"]) for r in aa if r["pct"] is not None)[int(0.95 * (len(aa) - 1))], 1
        )
        if aa
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comparisons", type=int, default=40)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--conditions", default="idle,neighbour,comes and goes")
    parser.add_argument("--methods", default="separate,interleaved")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    sizes = calibrate()
    base = sizes.pop("base_ms")
    env = {**os.environ, **sizes}
    print(
        f"app: {base} ms on the idle machine; +20%: sleep {sizes['PERFDOCTOR_NOISE_SLEEP_MS']} ms "
        f"or {sizes['PERFDOCTOR_NOISE_EXTRA_LOOPS']} more loops"
    )
    table = []
    everything: dict[str, Any] = {"base_ms": base, **sizes, "runs": {}}
    with tempfile.TemporaryDirectory(prefix="perfdoctor-noise-") as tmp:
        for condition in args.conditions.split(","):
            for method in args.methods.split(","):
                work = Path(tmp) / f"{condition}-{method}".replace(" ", "_")
                work.mkdir()
                print(f"{condition}, {method}: ", end="", flush=True)
                started = time.monotonic()
                if method == "separate":
                    results = separate(condition, args.comparisons, args.requests, env, work, 7)
                else:
                    results = interleaved(condition, args.comparisons, args.requests, env, work)
                print(f" {time.monotonic() - started:.0f} s")
                row = {"condition": condition, "method": method, **summary(results)}
                table.append(row)
                everything["runs"][f"{condition}/{method}"] = results
    header = (
        f"{'condition':<15} {'method':<12} {'A/A false':>10} {'cannot tell':>11} "
        f"{'query false':>11} {'+20% found':>14} {'noise':>6} {'detects':>8} {'|A/A| p95':>9}"
    )
    print(header)
    for row in table:
        print(
            f"{row['condition']:<15} {row['method']:<12} "
            f"{row['false_verdicts']:>3}/{row['aa']:<3} {row['false_pct']:>3}% "
            f"{row['cannot_tell_aa']:>11} {row['false_query_changes']:>11} "
            f"{row['detected']:>3}/{row['changes']:<3} {row['detected_pct']:>5}% "
            f"{row['median_noise_pct']:>5}% {row['median_mdc_pct']:>7}% "
            f"{row['aa_abs_change_p95']:>8}%"
        )
    if args.json:
        everything["table"] = table
        Path(args.json).write_text(json.dumps(everything, indent=1))


if __name__ == "__main__":
    main()

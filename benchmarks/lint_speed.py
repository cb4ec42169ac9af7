"""How fast is ``perfdoctor lint``? Against ``ast.parse`` alone and pylint + perflint.

    python benchmarks/lint_speed.py [--runs 7] [--pylint-runs 3] [--no-pylint]

The tree: Django's own source (the installed package) plus the repository's small
Django sites. Each figure is the median of several runs, each run in a fresh
process (the files are in the page cache after the first run of all):

* floor: read every file and ``ast.parse`` it, nothing else (as Python runs by
  default, and with the cyclic garbage collector off, as the linter runs);
* perfdoctor lint: the same files through ``lint_paths`` (parse, models pass,
  one walk per file with every rule), timed inside the process;
* pylint + perflint: ``pylint --load-plugins=perflint --disable=all --enable=<every
  perflint check>`` on the same paths, wall clock of the process, one job.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parents[1]
TREES = [
    str(Path(django.__file__).parent),
    str(ROOT / "tests/apps/django_site"),
    str(ROOT / "tests/apps/django_cache_site"),
    str(ROOT / "tests/database/apps/dbsite"),
]
PERFLINT = "W8101,W8102,W8201,W8202,R8203,W8204,W8205,W8401,W8402,W8403"

_FLOOR = """
import ast, gc, json, sys, time
from perfdoctor.lint.engine import discover
files = discover(sys.argv[2:])
if sys.argv[1] == "nogc":
    gc.disable()
start = time.perf_counter()
for path in files:
    ast.parse(path.read_bytes().decode("utf-8"), filename=str(path))
print(json.dumps({"seconds": time.perf_counter() - start, "files": len(files)}))
"""
_LINT = """
import json, sys, time
from perfdoctor.lint import lint_paths
start = time.perf_counter()
result = lint_paths(sys.argv[1:])
print(json.dumps({"seconds": time.perf_counter() - start, "files": result.files,
                  "findings": len(result.findings)}))
"""


def _child(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    data: dict[str, float] = json.loads(out.stdout)
    return data


def _pylint() -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pylint", "--load-plugins=perflint", "--disable=all",
         f"--enable={PERFLINT}", "--score=n", "--recursive=y", "-j", "1", *TREES],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--pylint-runs", type=int, default=3)
    parser.add_argument("--no-pylint", action="store_true")
    args = parser.parse_args()

    _child(_LINT, *TREES)  # warm the page cache
    floor, floor_nogc, lint = [], [], []
    info: dict[str, float] = {}
    for _ in range(args.runs):  # interleaved, so drift on a shared machine hits all alike
        floor.append(_child(_FLOOR, "gc", *TREES)["seconds"])
        floor_nogc.append(_child(_FLOOR, "nogc", *TREES)["seconds"])
        info = _child(_LINT, *TREES)
        lint.append(info["seconds"])
    pylint = [] if args.no_pylint else [_pylint() for _ in range(args.pylint_runs)]

    def line(label: str, values: list[float]) -> str:
        return (f"{label:<34} median {statistics.median(values):7.2f} s   "
                f"(runs {min(values):.2f} to {max(values):.2f}, n={len(values)})")  # fmt: skip

    print(f"tree: {int(info['files'])} files, {int(info['findings'])} lint findings")
    print(line("ast.parse alone (gc on)", floor))
    print(line("ast.parse alone (gc off)", floor_nogc))
    print(line("perfdoctor lint", lint))
    med = statistics.median(lint)
    print(f"perfdoctor lint / floor: {med / statistics.median(floor):.2f}x (gc on), "
          f"{med / statistics.median(floor_nogc):.2f}x (gc off)")  # fmt: skip
    if pylint:
        print(line("pylint + perflint", pylint))
        print(f"pylint + perflint / perfdoctor lint: {statistics.median(pylint) / med:.1f}x")


if __name__ == "__main__":
    main()

"""How many repeats make an N+1? Precision and recall of n-plus-one-query per threshold.

    python benchmarks/n_plus_one_threshold.py [--traces PATH] [--json]

The labelled set is the traces of tests/nplusone/corpus_app.py, run here under
``perfdoctor run`` (a Flask + SQLAlchemy app on SQLite): one trace per scenario,
named ``n+1 ...`` (a loop runs one query per row: 2, 3, 4, 5, 10 and 12 rows, the
first rows of a page, a loop over ids, a helper called in a loop, a sequence of
three queries per row) or ``clean ...`` (a helper reached from five separate
lines, five and three test-client requests in one test, a paged walk, a count
per status after an unrelated list, the joined fix).  A scenario is flagged when
the detector reports any n-plus-one-query in its trace.

Rows of the table:

* ``repeats >= T``: the plain count threshold, no proof asked
  (``n_plus_one_min_repeats = T``);
* ``proof rows >= n, from T``: five repeats as before, or from T when the parent
  query fetched at least as many rows as the loop ran queries
  (``n_plus_one_proven_min_repeats = T``, what perfdoctor does);
* ``proof rows == n, from T``: the same, but the parent's rows must equal the
  repeats (measured here only, as the stricter alternative).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from perfdoctor import store
from perfdoctor.analysis.analyze import analyze
from perfdoctor.detectors._groups import n_plus_one_groups, parent_span
from perfdoctor.model import Trace
from perfdoctor.settings import Settings

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "nplusone" / "corpus_app.py"


def capture(traces: Path) -> list[Trace]:
    command = [sys.executable, "-m", "perfdoctor", "run", "--traces", str(traces), "--"]
    subprocess.run(
        [*command, sys.executable, str(CORPUS)], check=True, capture_output=True, timeout=300
    )
    return [t for t in store.load_traces(traces) if t.name.startswith(("n+1 ", "clean "))]


def flagged_by_detector(traces: list[Trace], settings: Settings) -> set[str]:
    return {
        f.endpoint or "" for f in analyze(traces, settings).findings if f.id == "n-plus-one-query"
    }


def flagged_by_equal_rows(traces: list[Trace], settings: Settings) -> set[str]:
    """Like the detector, but a group under ``n_plus_one_min_repeats`` counts only
    when its parent fetched exactly as many rows as it repeated."""
    flagged = set()
    for trace in traces:
        for group in n_plus_one_groups(trace, settings):
            parent = parent_span(trace, group.first)
            if group.count >= settings.n_plus_one_min_repeats or (
                parent is not None and parent.rows == group.count
            ):
                flagged.add(trace.name)
    return flagged


def score(traces: list[Trace], flagged: set[str]) -> dict[str, Any]:
    truth = {t.name for t in traces if t.name.startswith("n+1 ")}
    hits = flagged & truth
    noise = sorted(flagged - truth)
    missed = sorted(truth - flagged)
    return {
        "precision": round(len(hits) / len(flagged), 2) if flagged else 1.0,
        "recall": round(len(hits) / len(truth), 2),
        "noise": noise,
        "missed": missed,
    }


def table(traces: list[Trace]) -> list[dict[str, Any]]:
    rows = []
    for t in (2, 3, 4, 5):
        plain = Settings(n_plus_one_min_repeats=t, n_plus_one_proven_min_repeats=t)
        rows.append(
            {"rule": f"repeats >= {t}", **score(traces, flagged_by_detector(traces, plain))}
        )
    for t in (2, 3, 4):
        proven = Settings(n_plus_one_proven_min_repeats=t)
        rows.append(
            {
                "rule": f"proof rows >= n, from {t}",
                **score(traces, flagged_by_detector(traces, proven)),
            }
        )
    for t in (2, 3, 4):
        proven = Settings(n_plus_one_proven_min_repeats=t)
        rows.append(
            {
                "rule": f"proof rows == n, from {t}",
                **score(traces, flagged_by_equal_rows(traces, proven)),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=Path, help="keep the captured traces here")
    parser.add_argument("--json", action="store_true", help="the table as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        traces = capture(args.traces or Path(tmp) / "corpus.db")
    rows = table(traces)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    positives = sum(1 for t in traces if t.name.startswith("n+1 "))
    print(f"{positives} N+1 scenarios, {len(traces) - positives} clean ones")
    print(f"{'rule':<26} {'precision':>9} {'recall':>6}  noise / missed")
    for row in rows:
        print(
            f"{row['rule']:<26} {row['precision']:>9.2f} {row['recall']:>6.2f}  "
            f"{', '.join(row['noise']) or '-'} / {', '.join(row['missed']) or '-'}"
        )


if __name__ == "__main__":
    main()

"""Database advisor next to SQLite's own recommender, ``.expert`` of the ``sqlite3`` shell.

    python benchmarks/advisor_vs_sqlite_expert.py           # a Markdown table
    python benchmarks/advisor_vs_sqlite_expert.py --json

Method
------
The SQLite copy of the generated workload (tests/advisor/workload.py) gets the
workload's queries plus a few more shapes (a range, a sort on a skewed filter, two
equalities), each with representative literal values.  For every query, on its
own: ``sqlite3 DB`` with ``.expert`` then the query on standard input (Debian's
sqlite3 3.40), and ``perfdoctor``'s advisor with that single query.  Each side's
proposal is reduced to (table, columns) (``.expert``'s DESC and COLLATE dropped:
SQLite scans an index either way).  "agree" means the same set; "differ" says
how, and why where the reason is one of the advisor's rules.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.advisor import workload  # noqa: E402

from perfdoctor.advisor import advise, from_command_line  # noqa: E402
from perfdoctor.settings import Settings  # noqa: E402

QUERIES = [
    "SELECT id, email FROM customers WHERE email = 'user4242@example.com'",
    "SELECT * FROM orders WHERE customer_id = 17 ORDER BY created_at DESC LIMIT 20",
    "SELECT o.id, o.total FROM orders o JOIN customers c ON c.id = o.customer_id "
    "WHERE c.email = 'user4242@example.com'",
    "SELECT COUNT(*) FROM customers WHERE is_active = 0",
    "SELECT code, name FROM countries WHERE name = 'Country 3'",
    "SELECT id FROM orders WHERE created_at >= '2024-05-01' AND created_at < '2024-05-02'",
    "SELECT id, email FROM customers WHERE country = 'C7' ORDER BY created_at DESC LIMIT 20",
    "SELECT COUNT(*) FROM orders WHERE customer_id = 17 AND status = 'returned'",
    "SELECT id FROM orders WHERE status = 'pending' ORDER BY created_at LIMIT 50",
]
_CREATE = re.compile(r"CREATE INDEX \S+ ON (\w+)\((.*)\);")

Proposal = set[tuple[str, tuple[str, ...]]]


def expert(db: Path, sql: str) -> Proposal:
    result = subprocess.run(
        ["sqlite3", str(db)],
        input=f".expert\n{sql};\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found: Proposal = set()
    for table, cols in _CREATE.findall(result.stdout):
        names = tuple(c.strip().split()[0].strip('"') for c in cols.split(","))
        found.add((table, names))
    return found


def advisor(db: Path, sql: str) -> tuple[Proposal, list[str]]:
    advice = advise(f"sqlite:///{db}", from_command_line([sql]), Settings())
    proposal = {(r.candidate.table, r.candidate.columns) for r in advice.recommendations}
    return proposal, advice.skipped_columns


def _label(proposal: Proposal) -> str:
    return ", ".join(f"{t}({', '.join(c)})" for t, c in sorted(proposal)) or "none"


def compare(db: Path) -> list[dict[str, Any]]:
    rows = []
    for sql in QUERIES:
        ours, skipped = advisor(db, sql)
        theirs = expert(db, sql)
        if ours == theirs:
            verdict = "agree"
        elif {(t, c[:1]) for t, c in ours} == {(t, c[:1]) for t, c in theirs}:
            verdict = "same leading column"
        else:
            verdict = "differ"
        rows.append(
            {
                "sql": sql,
                "perfdoctor": _label(ours),
                "expert": _label(theirs),
                "verdict": verdict,
                "why": "; ".join(skipped),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| query | perfdoctor | sqlite3 .expert | verdict | advisor's note |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| `{r['sql']}` | {r['perfdoctor']} | {r['expert']} | {r['verdict']} | {r['why']} |"
        )
    agree = sum(r["verdict"] == "agree" for r in rows)
    lines.append("")
    lines.append(f"Agreement: {agree} of {len(rows)} queries.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("sqlite3") is None:
        sys.exit("needs the sqlite3 shell (Debian: apt-get install sqlite3)")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "shop.db"
        workload.build_sqlite(str(db))
        rows = compare(db)
    print(json.dumps(rows, indent=2) if args.json else markdown(rows))


if __name__ == "__main__":
    main()

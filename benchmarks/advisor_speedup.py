"""Database advisor: apply what it proposes and time the workload's queries before and after.

    python benchmarks/advisor_speedup.py                    # SQLite, PostgreSQL, MariaDB
    python benchmarks/advisor_speedup.py --dbs sqlite --quick
    python benchmarks/advisor_speedup.py --json

Method
------
For each database a fresh copy of the generated workload of tests/advisor/workload.py
is built (100k customers, 200k orders, a 20-row table, a 99%-true boolean).  The
advisor runs on the workload's queries exactly as ``perfdoctor indexes`` does; its
proposals are then applied with the migration SQL it prints, followed by the
database's ANALYZE (what a deploy would do).  Each query is timed with a fixed set
of real parameter values (heavy and light customers alike): one round executes
every value once (or as many times over as makes the round last about 50 ms) and
fetches the rows; ``--rounds`` rounds after a warm-up round, and the figure is
the median round's milliseconds per execution.  Queries the
advisor leaves alone are timed too: they should not move.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.advisor import workload  # noqa: E402

from perfdoctor.advisor import advise, from_command_line  # noqa: E402
from perfdoctor.advisor.output import migrations  # noqa: E402
from perfdoctor.settings import Settings  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}

EMAILS = [f"user{n}@example.com" for n in range(1, 100_001, 4_999)]
CUSTOMERS = [1, 2, 3, 5, 8, 13, 100, 1_000, 5_000, 20_000, 50_000, 90_000]


def parameters(dialect: str) -> list[list[tuple[Any, ...]]]:
    """Values for each of workload.QUERIES, in order."""
    true, false = (True, False) if dialect == "postgresql" else (1, 0)
    return [
        [(e,) for e in EMAILS],
        [(c, 20) for c in CUSTOMERS],
        [(e,) for e in EMAILS],
        [(true,), (false,)],
        [(f"Country {n}",) for n in range(1, 20, 3)],
    ]


Runner = Callable[[str, tuple[Any, ...]], None]


def time_queries(run: Runner, dialect: str, rounds: int) -> list[float]:
    medians = []
    for sql, values in zip(workload.QUERIES, parameters(dialect), strict=True):
        text = sql if dialect == "sqlite" else sql.replace("?", "%s")

        def one_round(
            repeat: int, text: str = text, values: list[tuple[Any, ...]] = values
        ) -> float:
            started = time.perf_counter()
            for _ in range(repeat):
                for params in values:
                    run(text, params)
            return (time.perf_counter() - started) * 1000 / (repeat * len(values))

        # The warm-up round also sizes the rounds: at least ~50 ms each, so that a
        # 0.02 ms lookup is timed over thousands of runs, not seven.
        warm = one_round(1)
        repeat = max(1, round(50 / (warm * len(values))))
        medians.append(statistics.median(one_round(repeat) for _ in range(rounds)))
    return medians


def sqlite_copy(
    tmp: Path,
) -> tuple[str, Runner, Callable[[Sequence[str]], None], Callable[[], None]]:
    import sqlite3

    path = tmp / f"advisor-bench-{uuid.uuid4().hex[:8]}.db"
    workload.build_sqlite(str(path))
    conn = sqlite3.connect(path, isolation_level=None)

    def run(sql: str, params: tuple[Any, ...]) -> None:
        conn.execute(sql, params).fetchall()

    def apply(ddl: Sequence[str]) -> None:
        for sql in ddl:
            conn.execute(sql)
        conn.execute("ANALYZE")

    def drop() -> None:
        conn.close()
        path.unlink()

    return f"sqlite:///{path}", run, apply, drop


def postgres_copy(
    _tmp: Path,
) -> tuple[str, Runner, Callable[[Sequence[str]], None], Callable[[], None]]:
    import psycopg

    name = f"pd_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    workload.build_postgres(url)
    conn = psycopg.connect(url, autocommit=True)

    def run(sql: str, params: tuple[Any, ...]) -> None:
        conn.execute(sql.encode(), params).fetchall()

    def apply(ddl: Sequence[str]) -> None:
        for sql in ddl:
            conn.execute(sql.encode())
        conn.execute(b"ANALYZE")

    def drop() -> None:
        conn.close()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())

    return url, run, apply, drop


def mysql_copy(
    _tmp: Path,
) -> tuple[str, Runner, Callable[[Sequence[str]], None], Callable[[], None]]:
    import pymysql

    name = f"pd_bench_{uuid.uuid4().hex[:8]}"
    admin = pymysql.connect(**MYSQL, autocommit=True)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    params = {**MYSQL, "database": name}
    workload.build_mysql(params)
    conn = pymysql.connect(**params, autocommit=True)

    def run(sql: str, values: tuple[Any, ...]) -> None:
        with conn.cursor() as cur:
            cur.execute(sql, values)
            cur.fetchall()

    def apply(ddl: Sequence[str]) -> None:
        with conn.cursor() as cur:
            for sql in ddl:
                cur.execute(sql)
            cur.execute("ANALYZE TABLE countries, customers, orders")
            cur.fetchall()

    def drop() -> None:
        conn.close()
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()

    return workload.mysql_url(params), run, apply, drop


COPIES = {"sqlite": sqlite_copy, "postgresql": postgres_copy, "mysql": mysql_copy}


def bench(dialect: str, rounds: int, tmp: Path) -> dict[str, Any]:
    url, run, apply, drop = COPIES[dialect](tmp)
    try:
        before = time_queries(run, dialect, rounds)
        started = time.perf_counter()
        advice = advise(url, from_command_line(list(workload.QUERIES)), Settings())
        advisor_s = time.perf_counter() - started
        ddl = [migrations(dialect, r.candidate)["sql"] for r in advice.recommendations]
        apply(ddl)
        after = time_queries(run, dialect, rounds)
    finally:
        drop()
    return {
        "dialect": dialect,
        "advisor_seconds": round(advisor_s, 2),
        "applied": ddl,
        "queries": [
            {"sql": sql, "before_ms": round(b, 3), "after_ms": round(a, 3)}
            for sql, b, a in zip(workload.QUERIES, before, after, strict=True)
        ],
    }


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| database | query | before ms | after ms | speed-up |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for result in results:
        for q in result["queries"]:
            ratio = q["before_ms"] / q["after_ms"] if q["after_ms"] else float("inf")
            lines.append(
                f"| {result['dialect']} | `{q['sql']}` | {q['before_ms']:.3f} | "
                f"{q['after_ms']:.3f} | {ratio:.1f}x |"
            )
    lines.append("")
    for result in results:
        lines.append(
            f"* {result['dialect']}: advisor ran in {result['advisor_seconds']} s; applied: "
            + "; ".join(f"`{d}`" for d in result["applied"])
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dbs", default="sqlite,postgresql,mysql")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2 rounds: a smoke run")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tmp", default="/tmp")
    args = parser.parse_args()
    rounds = 2 if args.quick else args.rounds
    results = [bench(d, rounds, Path(args.tmp)) for d in args.dbs.split(",")]
    print(json.dumps(results, indent=2) if args.json else markdown(results))


if __name__ == "__main__":
    main()

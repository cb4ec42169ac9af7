"""The request thread's share of capture: thread-CPU µs per query, traced minus untraced.

A diagnostic for the per-query hot path (the traced ``execute``, ``record_db``,
the call-site walk, the ORM hooks), without the recorder thread::

    python benchmarks/hot_path.py                                  # this tree
    python benchmarks/hot_path.py --before-src OTHER/src           # and another, same run
    python benchmarks/hot_path.py --library sqlalchemy-lazy --steps  # per-step elimination

Method
------
A worker process instruments with ``perfdoctor.instrument()``, then counts and
drops each finished trace instead of handing it to the recorder (as
``capture_overhead.py``'s ``perfdoctor-nowriter``).  It alternates blocks of
``--queries`` queries: *off* (no trace open, the traced cursor in place; for
Django, capture switched off so the request opens none) and *on* (each block one
trace), in alternating order, and reports each variant's median thread CPU per
query (``time.thread_time``, so other processes on the machine do not count).
Both variants run in the same process, interleaved, so the difference resolves
about half a microsecond on a shared machine where separate processes do not.
With ``--before-src`` the same worker also runs from another copy of the
package (``PYTHONPATH``); workers of both trees alternate across ``--rounds``,
and each row is the median over rounds.

``--steps`` adds, for this tree only, variants that remove one piece at a time
(their names say which: the call-site walk replaced by a stub returning no
frames; ``record_db`` a no-op; the SQLAlchemy ORM listener removed).  They
depend on this tree's internals.

Workloads (in-memory SQLite, 1000 rows): ``sqlite3``, ``sqlalchemy`` (Core) and
``django`` are ``capture_overhead.py``'s point lookups; ``sqlalchemy-lazy`` is
the SQLAlchemy ORM's N+1: one SELECT of the authors, then ``author.books`` for
each, a lazy load each (per query: the block over its 1 + n queries).
"""

from __future__ import annotations

import argparse
import collections
import functools
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import capture_overhead

LIBRARIES = ("sqlite3", "sqlalchemy", "sqlalchemy-lazy", "django")
BEFORE = "before"
AFTER = "after"
BARE = "bare"


def _lazy_workload() -> tuple[Callable[[int, int], int], Callable[[], None]]:
    from sqlalchemy import Column, ForeignKey, Integer, String, create_engine, select
    from sqlalchemy.orm import Session, declarative_base, relationship

    # Classic columns: annotations are strings here (``from __future__``), which
    # SQLAlchemy cannot resolve for classes local to a function.
    Base: Any = declarative_base()

    class Author(Base):
        __tablename__ = "authors"
        id = Column(Integer, primary_key=True)
        name = Column(String(50))
        books = relationship("Book", back_populates="author")

    class Book(Base):
        __tablename__ = "books"
        id = Column(Integer, primary_key=True)
        title = Column(String(50))
        author_id = Column(Integer, ForeignKey("authors.id"))
        author = relationship(Author, back_populates="books")

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for i in range(1, 1001):
            session.add(Author(id=i, name=f"a{i}", books=[Book(title=f"b{i}")]))
        session.commit()

    def block(n: int, start: int) -> int:
        first = start % 1000 + 1
        with Session(engine) as session:
            authors = session.scalars(select(Author).where(Author.id >= first).limit(n)).all()
            for author in authors:
                len(author.books)
        return len(authors) + 1

    return block, engine.dispose


def _workload(library: str) -> tuple[Callable[[int, int], int], bool]:
    """(block running about n queries and returning how many, whether it opens its trace)."""
    if library == "sqlalchemy-lazy":
        block, _close = _lazy_workload()
        return block, False
    work = capture_overhead.WORKLOADS[library]("perfdoctor")

    def counted(n: int, start: int) -> int:
        work.block(n, start)
        return n

    return counted, work.own_trace


def _step_variants(library: str) -> dict[str, Callable[[bool], None]]:
    """name -> switch(on) removing one piece of this tree's hot path while on."""
    from perfdoctor import callsite
    from perfdoctor.capture import context

    steps: dict[str, Callable[[bool], None]] = {}
    real_walk = context._capture_caller

    def stub_walk(on: bool) -> None:
        context._capture_caller = (  # type: ignore[assignment]
            (lambda skip, depth, anchor=None: ([], None, None)) if on else real_walk
        )

    steps["walk stubbed"] = stub_walk
    users = [
        module
        for module in list(sys.modules.values())
        if getattr(module, "record_db", None) is context.record_db
        and getattr(module, "__name__", "").startswith("perfdoctor.")
    ]
    real_record = context.record_db

    def noop(*args: Any, **kwargs: Any) -> None:
        return None

    def stub_record(on: bool) -> None:
        for module in users:
            module.record_db = noop if on else real_record  # type: ignore[attr-defined]

    steps["record_db no-op"] = stub_record
    if library == "sqlalchemy-lazy":
        from sqlalchemy import event
        from sqlalchemy.orm import Session

        listeners = [
            fn
            for fn in Session.dispatch.do_orm_execute._clslevel.get(Session, ())
            if getattr(fn, "__module__", "").startswith("perfdoctor")
        ]

        def no_listener(on: bool) -> None:
            for fn in listeners:
                if on:
                    event.remove(Session, "do_orm_execute", fn)
                else:
                    event.listen(Session, "do_orm_execute", fn)

        if listeners:
            steps["no do_orm_execute listener"] = no_listener
    del callsite
    return steps


def run_bare(library: str, reps: int, queries: int, warmup: int) -> dict[str, Any]:
    """The workload with perfdoctor not imported at all."""
    block, _own_trace = _workload(library)
    samples: list[float] = []
    for rep in range(warmup + reps):
        gc.collect()
        started = time.thread_time_ns()
        count = block(queries, rep * queries)
        spent = time.thread_time_ns() - started
        if rep >= warmup:
            samples.append(spent / 1000.0 / count)
    return {
        "library": library,
        "package": None,
        "median_us": {"off": statistics.median(samples)},
        "spans": {},
    }


def run_worker(
    library: str, reps: int, queries: int, warmup: int, steps: bool, undrawn_variant: bool
) -> dict[str, Any]:
    import perfdoctor
    from perfdoctor.capture import context

    with tempfile.TemporaryDirectory(prefix="perfdoctor-hot-") as folder:
        perfdoctor.instrument(traces=Path(folder) / "traces.db")
        kept: collections.Counter[str] = collections.Counter()

        def drop(trace: Any) -> None:
            kept.update(span[0] for span in trace.spans)

        context.state.on_finish = drop
        block, own_trace = _workload(library)

        undrawn = summary = False

        @contextmanager
        def traced() -> Iterator[None]:
            if own_trace:
                yield
                return
            with perfdoctor.trace("bench"):
                trace = context.current()
                if undrawn and trace is not None:
                    trace.sampled = False
                    if summary:
                        trace.detail = False
                yield

        def leave_out(on: bool, tail_summary: bool = False) -> None:
            # ``--sample``'s usual request: not drawn, neither slow nor failed
            # (``tail_summary``: under ``--sample-tail summary``, recording nothing).
            nonlocal undrawn, summary
            undrawn = on
            summary = on and tail_summary
            capture_overhead.leave_out_requests(context.state, on, summary=tail_summary)

        variants: dict[str, tuple[bool, Callable[[bool], None] | None]] = {
            "off": (False, None),
            "on": (True, None),
        }
        if undrawn_variant:
            variants["undrawn"] = (True, leave_out)
            if "detail" in context.ActiveTrace.__slots__:  # a tree from before has none
                variants["summary"] = (True, functools.partial(leave_out, tail_summary=True))
        if steps:
            for name, switch in _step_variants(library).items():
                variants[name] = (True, switch)
        names = list(variants)
        samples: dict[str, list[float]] = {name: [] for name in names}
        for rep in range(warmup + reps):
            order = names if rep % 2 == 0 else names[::-1]
            for name in order:
                trace_on, switch = variants[name]
                context.state.enabled = trace_on or not own_trace
                if switch is not None:
                    switch(True)
                gc.collect()
                started = time.thread_time_ns()
                with traced() if trace_on else nullcontext():
                    count = block(queries, rep * queries)
                spent = time.thread_time_ns() - started
                if switch is not None:
                    switch(False)
                if rep >= warmup:
                    samples[name].append(spent / 1000.0 / count)
        context.state.enabled = True
        perfdoctor.uninstrument()
    return {
        "library": library,
        "package": os.path.dirname(perfdoctor.__file__),
        "median_us": {name: statistics.median(values) for name, values in samples.items()},
        "spans": dict(kept),
    }


def _spawn(library: str, src: str | None, args: argparse.Namespace, steps: bool) -> dict[str, Any]:
    env = capture_overhead.worker_env()
    if src is not None and src != BARE:
        env["PYTHONPATH"] = src
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        library,
        "--reps",
        str(args.reps),
        "--queries",
        str(args.queries),
        "--warmup",
        str(args.warmup),
    ]
    if steps:
        command.append("--steps")
    if args.undrawn and src != BARE:
        command.append("--undrawn")
    if src == BARE:
        command.append("--bare")
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"worker {library} ({src or 'this tree'}) failed:\n{result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", action="append", choices=LIBRARIES)
    parser.add_argument("--before-src", help="another copy of the package's src, measured too")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=15, help="timed blocks per variant")
    parser.add_argument("--queries", type=int, default=1000, help="queries per block")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", action="store_true", help="per-step elimination variants")
    parser.add_argument(
        "--undrawn",
        action="store_true",
        help="also traces --sample leaves out (not drawn, neither slow nor failed)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker and args.bare:
        print(json.dumps(run_bare(args.worker, args.reps, args.queries, args.warmup)))
        return
    if args.worker:
        print(
            json.dumps(
                run_worker(
                    args.worker, args.reps, args.queries, args.warmup, args.steps, args.undrawn
                )
            )
        )
        return
    trees: list[tuple[str, str | None]] = [(BARE, BARE), (AFTER, None)]
    if args.before_src:
        trees.insert(1, (BEFORE, args.before_src))
    runs: dict[tuple[str, str], list[dict[str, Any]]] = collections.defaultdict(list)
    for round_ in range(args.rounds):
        for library in args.library or LIBRARIES:
            shift = round_ % len(trees)
            order = trees[shift:] + trees[:shift]
            for tree, src in order:
                print(f"round {round_ + 1}/{args.rounds}: {library} {tree}", file=sys.stderr)
                runs[(library, tree)].append(
                    _spawn(library, src, args, args.steps and tree == AFTER)
                )
    rows = []
    for (library, tree), results in runs.items():
        names = list(results[0]["median_us"])
        off = statistics.median(r["median_us"]["off"] for r in results)
        row = {
            "library": library,
            "tree": tree,
            "off_us": round(off, 3),
            "package": results[0]["package"],
        }
        if tree != BARE:
            # Across processes (noisier): the same round's bare worker as the base.
            bare = runs[(library, BARE)]
            row["on over bare"] = round(
                statistics.median(
                    r["median_us"]["on"] - b["median_us"]["off"] for r, b in zip(results, bare)
                ),
                3,
            )
        for name in names[1:]:
            row[name] = round(
                statistics.median(r["median_us"][name] - r["median_us"]["off"] for r in results), 3
            )
        row["spans"] = results[-1]["spans"]
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"thread CPU µs per query over 'off' (median over {args.rounds} rounds of each "
        f"worker's median over {args.reps} blocks of {args.queries} queries)"
    )
    for row in rows:
        extras = "  ".join(
            f"{k}: {v:+.2f}"
            for k, v in row.items()
            if k not in ("library", "tree", "off_us", "package", "spans")
        )
        print(
            f"{row['library']:16} {row['tree']:7} off {row['off_us']:8.2f}  {extras}"
            f"  spans {row['spans']}"
        )


if __name__ == "__main__":
    main()

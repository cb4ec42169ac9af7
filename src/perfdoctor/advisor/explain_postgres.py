"""PostgreSQL: ``EXPLAIN (FORMAT JSON)`` into the common model.

``ANALYZE`` runs the statement, so it is used only for a plain SELECT, inside a
READ ONLY transaction (the session's statement timeout applies) that is rolled
back.  Without values for a statement's placeholders the plan is PostgreSQL's
generic plan: ``PREPARE`` with ``plan_cache_mode = force_generic_plan`` and
``EXPLAIN EXECUTE`` with NULLs, which the generic plan never looks at
(``EXPLAIN (GENERIC_PLAN)`` needs PostgreSQL 16).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from typing import Any

from perfdoctor.advisor.connection import PostgresSession
from perfdoctor.advisor.plans import INDEX, JOIN, NESTED_LOOP, OTHER, SCAN, SORT, Plan, PlanNode

COST_UNIT = "planner cost"
_OPS = {
    "Seq Scan": SCAN,
    "Index Scan": INDEX,
    "Index Only Scan": INDEX,
    "Bitmap Index Scan": INDEX,
    "Bitmap Heap Scan": INDEX,
    "Sort": SORT,
    "Incremental Sort": SORT,
    "Nested Loop": NESTED_LOOP,
    "Hash Join": JOIN,
    "Merge Join": JOIN,
}
_QMARK = re.compile(r"\?")
_NAMES = itertools.count(1)


def _node(data: dict[str, Any]) -> PlanNode:
    kind = str(data.get("Node Type", "?"))
    label = kind
    if data.get("Relation Name"):
        label += f" on {data['Relation Name']}"
    if data.get("Index Name"):
        label += f" using {data['Index Name']}"
    if data.get("Sort Key"):
        label += f" by {', '.join(map(str, data['Sort Key']))}"
    node = PlanNode(
        _OPS.get(kind, OTHER),
        label,
        table=data.get("Relation Name"),
        index=data.get("Index Name"),
        rows=data.get("Plan Rows"),
        actual_rows=data.get("Actual Rows"),
        loops=data.get("Actual Loops"),
        cost=data.get("Total Cost"),
    )
    node.children = [_node(child) for child in data.get("Plans", [])]
    return node


def _to_plan(raw: Any, analyzed: bool) -> Plan:
    if isinstance(raw, str):
        raw = json.loads(raw)
    top = raw[0]["Plan"]
    root = _node(top)
    return Plan("postgresql", root, float(top.get("Total Cost", 0.0)), COST_UNIT, analyzed)


def explain(
    session: PostgresSession,
    sql: str,
    params: Sequence[Any] | None = None,
    analyze: bool = False,
) -> Plan:
    """``sql`` uses ``?`` placeholders; ``params`` None means the generic plan."""
    if params is None:
        return _generic(session, sql)
    text = _QMARK.sub("%s", sql.replace("%", "%%")) if params else sql
    options = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
    with session.read_only():
        rows = session.query(f"EXPLAIN ({options}) {text}", list(params or ()))
    return _to_plan(rows[0][0], analyze)


def _numbered(sql: str) -> tuple[str, int]:
    count = 0

    def number(_match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return _QMARK.sub(number, sql), count


def _generic_in_transaction(session: PostgresSession, sql: str) -> Plan:
    text, count = _numbered(sql)
    # Prepared statements outlive a rollback: a fresh name each time, freed on success.
    name = f"perfdoctor_q{next(_NAMES)}"
    session.query("SET LOCAL plan_cache_mode = force_generic_plan")
    session.query(f"PREPARE {name} AS {text}")
    nulls = ", ".join(["NULL"] * count)
    rows = session.query(f"EXPLAIN (FORMAT JSON) EXECUTE {name}({nulls})")
    session.query(f"DEALLOCATE {name}")
    return _to_plan(rows[0][0], False)


def _generic(session: PostgresSession, sql: str) -> Plan:
    with session.read_only():
        return _generic_in_transaction(session, sql)


def cost_in_transaction(session: PostgresSession, sql: str, params: Sequence[Any] | None) -> float:
    """Planner cost inside a transaction the caller opened (to see a trial index);
    ``params`` None: the generic plan."""
    if params is None:
        return float(_generic_in_transaction(session, sql).cost or 0.0)
    text = _QMARK.sub("%s", sql.replace("%", "%%")) if params else sql
    rows = session.query(f"EXPLAIN (FORMAT JSON) {text}", list(params))
    return float(_to_plan(rows[0][0], False).cost or 0.0)

"""SQLite: ``EXPLAIN QUERY PLAN`` into the common model, and a measured cost.

SQLite's planner shows no cost, so the cost is measured: the statement runs
(a SELECT, which cannot write) and the progress handler counts its
virtual-machine instructions.  The count does not depend on the machine's load,
so "before" and "after" compare fairly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perfdoctor.advisor.connection import SQLiteSession
from perfdoctor.advisor.plans import AUTOMATIC, INDEX, OTHER, SCAN, SORT, Plan, PlanNode

COST_UNIT = "VM steps"


def _node(detail: str, aliases: Mapping[str, str]) -> PlanNode:
    words = detail.split()
    head = words[0] if words else ""
    table = aliases.get(words[1].lower(), words[1]) if len(words) > 1 else None
    if head == "SCAN" and table and "INDEX" not in detail:
        return PlanNode(SCAN, detail, table=table)
    if head in ("SCAN", "SEARCH") and table:
        index = None
        if "USING" in words and "INDEX" in words:
            at = words.index("INDEX") + 1
            index = words[at] if at < len(words) and not words[at].startswith("(") else None
        if "AUTOMATIC" in words:
            # SQLite builds a throw-away index on every run: the index that is missing.
            return PlanNode(SCAN, detail, table=table, index=AUTOMATIC)
        return PlanNode(INDEX, detail, table=table, index=index)
    if detail.startswith("USE TEMP B-TREE"):
        return PlanNode(SORT, detail)
    return PlanNode(OTHER, detail)


def explain(
    session: SQLiteSession,
    sql: str,
    params: Sequence[Any] = (),
    aliases: Mapping[str, str] | None = None,
    measure: bool = True,
) -> Plan:
    rows = session.query("EXPLAIN QUERY PLAN " + sql, params)
    root = PlanNode(OTHER, "QUERY PLAN")
    by_id: dict[int, PlanNode] = {0: root}
    for node_id, parent, _unused, detail in rows:
        node = _node(str(detail), {k.lower(): v for k, v in (aliases or {}).items()})
        by_id.get(int(parent), root).children.append(node)
        by_id[int(node_id)] = node
    _mark_nested(root)
    cost = float(cost_of(session, sql, params)) if measure else None
    return Plan("sqlite", root, cost, COST_UNIT)


def _mark_nested(root: PlanNode) -> None:
    """SQLite lists a join's loops as siblings, outermost first: a scan after the
    first table runs once per outer row, which is a nested loop over a scan."""
    from perfdoctor.advisor.plans import NESTED_LOOP

    access = [c for c in root.children if c.op in (SCAN, INDEX)]
    if len(access) < 2:
        return
    loop = PlanNode(NESTED_LOOP, "nested loop (join order)", children=access)
    root.children = [loop] + [c for c in root.children if c not in access]


def cost_of(session: SQLiteSession, sql: str, params: Sequence[Any] = ()) -> int:
    _, steps = session.run_counting(sql, params)
    return steps

"""MySQL/MariaDB: ``EXPLAIN FORMAT=JSON`` into the common model.

MariaDB's JSON plan carries no cost, MySQL's does (``query_cost``); to compare
the two the same way, the cost here is the rows the plan expects to examine: for
a nested loop, each table's rows times the rows that reach it from the tables
before it.  EXPLAIN never runs the statement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from perfdoctor.advisor.connection import MySQLSession
from perfdoctor.advisor.plans import INDEX, NESTED_LOOP, OTHER, SCAN, SORT, Plan, PlanNode

COST_UNIT = "rows examined (estimated)"
_SCANS = {"ALL", "index"}  # "index" reads the whole index: a full scan in key order


def _table(data: Mapping[str, Any], aliases: Mapping[str, str]) -> PlanNode:
    name = str(data.get("table_name", "?"))
    table = aliases.get(name.lower(), name)
    access = str(data.get("access_type", "?"))
    label = f"{access} on {name}" + (f" using {data['key']}" if data.get("key") else "")
    op = SCAN if access in _SCANS and not data.get("key") else INDEX
    if access == "ALL":
        op = SCAN
    rows = data.get("rows")
    filtered = float(data.get("filtered", 100) or 100)
    node = PlanNode(op, label, table=table, index=data.get("key"), rows=rows)
    node.cost = float(rows) * filtered / 100 if rows is not None else None
    if data.get("using_filesort"):
        return PlanNode(SORT, "filesort", children=[node])
    return node


def _walk(data: Any, aliases: Mapping[str, str]) -> list[PlanNode]:
    if isinstance(data, list):
        return [n for item in data for n in _walk(item, aliases)]
    if not isinstance(data, dict):
        return []
    if "table_name" in data:
        return [_table(data, aliases)]
    nodes: list[PlanNode] = []
    for key, value in data.items():
        if key == "nested_loop":
            loop = PlanNode(NESTED_LOOP, "nested loop", children=_walk(value, aliases))
            nodes.append(loop if len(loop.children) > 1 else loop.children[0])
        elif key == "filesort":
            nodes.append(PlanNode(SORT, "filesort", children=_walk(value, aliases)))
        elif isinstance(value, (dict, list)):
            nodes.extend(_walk(value, aliases))
    return nodes


def _examined(node: PlanNode) -> float:
    """Rows examined: a nested loop multiplies each table by what reaches it."""
    if node.op == NESTED_LOOP:
        total, reaching = 0.0, 1.0
        for child in node.children:
            rows = float(_first_rows(child))
            total += reaching * rows
            reaching *= max(float(child.cost if child.cost is not None else rows), 1.0)
        return total
    if node.table is not None:
        return float(node.rows or 0)
    return sum(_examined(c) for c in node.children)


def _first_rows(node: PlanNode) -> float:
    for sub in node.walk():
        if sub.rows is not None:
            return float(sub.rows)
    return 0.0


def explain(
    session: MySQLSession,
    sql: str,
    params: Sequence[Any] = (),
    aliases: Mapping[str, str] | None = None,
) -> Plan:
    text = sql.replace("%", "%%").replace("?", "%s") if params else sql
    rows = session.query("EXPLAIN FORMAT=JSON " + text, params)
    raw = json.loads(rows[0][0])
    lowered = {k.lower(): v for k, v in (aliases or {}).items()}
    root = PlanNode(OTHER, "query", children=_walk(raw, lowered))
    return Plan("mysql", root, _examined(root), COST_UNIT)

"""One plan model for SQLite, PostgreSQL and MySQL/MariaDB, and the problems a plan shows.

Each ``explain_*`` module translates its database's plan into :class:`PlanNode`
trees; everything after that (problems, costs, the advisor) reads only this model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# Node operations, the same words for every database.
SCAN = "scan"  # reads every row of a table
INDEX = "index"  # reads through an index (a search, or an ordered index scan)
SORT = "sort"  # sorts rows outside any index
NESTED_LOOP = "nested-loop"
JOIN = "join"  # hash or merge join
OTHER = "other"
AUTOMATIC = "(automatic)"  # SQLite's per-statement index: the scan it stands for is the problem


@dataclass
class PlanNode:
    op: str
    label: str  # the database's own words for this step
    table: str | None = None
    index: str | None = None
    rows: float | None = None  # estimated rows out
    actual_rows: float | None = None  # EXPLAIN ANALYZE only, per loop
    loops: float | None = None
    cost: float | None = None
    children: list[PlanNode] = field(default_factory=list)

    def walk(self) -> Iterator[PlanNode]:
        yield self
        for child in self.children:
            yield from child.walk()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": self.op, "label": self.label}
        for key in ("table", "index", "rows", "actual_rows", "loops", "cost"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.children:
            data["children"] = [c.to_dict() for c in self.children]
        return data


@dataclass
class Plan:
    dialect: str
    root: PlanNode
    cost: float | None
    # What ``cost`` counts: PostgreSQL planner units, SQLite thousands of VM
    # instructions (measured), MySQL/MariaDB rows examined (estimated).
    cost_unit: str
    analyzed: bool = False

    def nodes(self) -> Iterator[PlanNode]:
        return self.root.walk()

    def to_dict(self) -> dict[str, Any]:
        return {
            "dialect": self.dialect,
            "cost": self.cost,
            "cost_unit": self.cost_unit,
            "analyzed": self.analyzed,
            "plan": self.root.to_dict(),
        }


@dataclass(frozen=True)
class Problem:
    kind: str  # full-scan, sort-without-index, nested-loop-scan, estimate-mismatch
    table: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "table": self.table, "message": self.message}


def _rows(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else "?"


def number(value: float | None, unit: str = "") -> str:
    """Costs as people read them: no decimals once they are large."""
    if value is None:
        return "?"
    if unit == "VM steps" and value < 100:
        return "<100"  # SQLite counts in steps of 100 instructions
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def problems(
    plan: Plan,
    table_rows: Callable[[str], int | None],
    min_table_rows: int,
    mismatch_factor: float,
) -> list[Problem]:
    """Full scans of big tables, sorts without an index, nested loops over scans,
    and (with ANALYZE) estimates far from the rows actually returned."""
    found: list[Problem] = []
    for node in plan.nodes():
        size = table_rows(node.table) if node.table else None
        big = size is not None and size >= min_table_rows
        if node.op == SCAN and big and node.index == AUTOMATIC:
            message = f"SQLite builds a throw-away index on {node.table} on every run"
            found.append(Problem("full-scan", node.table, message))
        elif node.op == SCAN and big:
            found.append(
                Problem("full-scan", node.table, f"full scan of {node.table} ({_rows(size)} rows)")
            )
        if node.op == SORT:
            found.append(
                Problem(
                    "sort-without-index", node.table, f"{node.label}: rows sorted outside an index"
                )
            )
        if node.op == NESTED_LOOP:
            inner = node.children[1:] if len(node.children) > 1 else []
            for child in inner:
                for sub in child.walk():
                    if (
                        sub.op == SCAN
                        and sub.table
                        and (table_rows(sub.table) or 0) >= min_table_rows
                    ):
                        found.append(
                            Problem(
                                "nested-loop-scan",
                                sub.table,
                                f"nested loop scans all of {sub.table} for each outer row",
                            )
                        )
        if node.actual_rows is not None and node.rows is not None:
            low, high = sorted((max(node.rows, 1.0), max(node.actual_rows, 1.0)))
            if high / low >= mismatch_factor:
                found.append(
                    Problem(
                        "estimate-mismatch",
                        node.table,
                        f"{node.label}: estimated {_rows(node.rows)} rows, "
                        f"got {_rows(node.actual_rows)}",
                    )
                )
    return _unique(found)


def _unique(found: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str | None, str]] = set()
    out = []
    for problem in found:
        key = (problem.kind, problem.table, problem.message)
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


def render_tree(node: PlanNode, depth: int = 0) -> list[str]:
    bits = [node.label]
    if node.rows is not None:
        bits.append(f"rows={_rows(node.rows)}")
    if node.actual_rows is not None:
        bits.append(f"actual={_rows(node.actual_rows)}")
    if node.cost is not None:
        bits.append(f"cost={number(node.cost)}")
    lines = ["  " * depth + "-> " + "  ".join(bits)]
    for child in node.children:
        lines.extend(render_tree(child, depth + 1))
    return lines

"""One loop, several relations read one row at a time: the eager loads together.

A card template reads a page's image, origin and bread type, each one query per
row: three findings, three fixes each naming one relation on the same queryset.
Pasted one at a time they each leave the other two; what a reviewer writes is
the one call naming all three.  Each finding keeps its own fix and gets the
combined one beside it (``evidence["orm_fix_together"]``, and a sentence).
"""

from __future__ import annotations

from typing import Any

from perfdoctor.model import Finding
from perfdoctor.orm.fix_django import render_calls


def _key(finding: Finding) -> tuple[Any, ...] | None:
    machine = finding.evidence.get("orm_fix")
    parent = finding.evidence.get("parent_statement")
    if not isinstance(machine, dict) or not parent:
        return None
    if machine.get("framework") != "django" or machine.get("kind") != "eager":
        return None
    calls = machine.get("calls")
    if not isinstance(calls, list) or not calls:
        return None
    # Wagtail's .specific() fixes carry for_specific_subqueries on every call.
    kwargs = tuple(sorted((k, repr(v)) for c in calls for k, v in c.get("kwargs", {}).items()))
    return finding.endpoint, parent, machine.get("on"), bool(machine.get("specific")), kwargs


def _merged(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_method: dict[str, dict[str, Any]] = {}
    for call in calls:
        found = by_method.get(call["method"])
        if found is None:
            by_method[call["method"]] = {**call, "args": list(call["args"])}
        else:
            found["args"] += [a for a in call["args"] if a not in found["args"]]
    # select_related before prefetch_related, as a single fix writes them.
    order = {"select_related": 0, "prefetch_related": 1}
    return sorted(by_method.values(), key=lambda c: order.get(c["method"], 2))


def _where(finding: Finding) -> str:
    """Where a sibling reads its relation: its template line, else its line of code."""
    trigger = finding.evidence.get("trigger")
    if isinstance(trigger, dict) and trigger.get("template") and trigger.get("line"):
        return f" at {trigger['template']}:{trigger['line']}"
    location = finding.location
    if location is None:
        return ""
    return f" at {location.path.rsplit('/', 1)[-1]}:{location.line}"


def combine(findings: list[Finding]) -> None:
    """Give each N+1 finding of a loop that reads several relations the eager
    load naming them all (in place)."""
    groups: dict[tuple[Any, ...], list[Finding]] = {}
    for finding in findings:
        key = _key(finding)
        if key is not None:
            groups.setdefault(key, []).append(finding)
    for members in groups.values():
        calls = [c for f in members for c in f.evidence["orm_fix"]["calls"]]
        merged = _merged(calls)
        if len(members) < 2 or merged == members[0].evidence["orm_fix"]["calls"]:
            continue
        written = render_calls(merged)
        for finding in members:
            others = [
                f"{f.evidence.get('relation') or 'another relation'}{_where(f)}"
                for f in members
                if f is not finding
            ]
            finding.evidence["orm_fix_together"] = {**finding.evidence["orm_fix"], "calls": merged}
            finding.fix = (
                f"{finding.fix} The same loop also reads {', '.join(others)} one row at a "
                f"time: all together, {written}."
            )

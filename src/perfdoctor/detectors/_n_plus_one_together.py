"""One loop, several relations read one row at a time: the eager loads together
(Django's ``select_related``/``prefetch_related``, SQLAlchemy's loader options).

A card template reads a page's image, origin and bread type, each one query per
row: three findings, three fixes each naming one relation on the same queryset.
Pasted one at a time they each leave the other two; what a reviewer writes is
the one call naming all three.  Each finding keeps its own fix and gets the
combined one beside it (``evidence["orm_fix_together"]``, and a sentence).

Only relations read one row at a time in a like number of requests go
together: on the bakery demo the same card's image renditions were read row by
row in 2 of 604 requests (a per-process cache answers the rest), and a prefetch
of them pasted with the others added a query to the other 602.
"""

from __future__ import annotations

from typing import Any

from perfdoctor.detectors._sites import shown_path
from perfdoctor.model import Finding
from perfdoctor.orm.fix_django import render_calls
from perfdoctor.orm.fix_sqlalchemy import options_imports


def _key(finding: Finding) -> tuple[Any, ...] | None:
    machine = finding.evidence.get("orm_fix")
    parent = finding.evidence.get("parent_statement")
    if not isinstance(machine, dict) or not parent or machine.get("kind") != "eager":
        return None
    framework = machine.get("framework")
    if framework == "django":
        calls = machine.get("calls")
        if not isinstance(calls, list) or not calls:
            return None
        # Wagtail's .specific() fixes carry for_specific_subqueries on every call.
        kwargs = tuple(
            sorted((k, repr(v)) for c in calls for k, v in c.get("kwargs", {}).items())
        )
        extra: tuple[Any, ...] = (bool(machine.get("specific")), kwargs)
    elif framework == "sqlalchemy":
        if not isinstance(machine.get("options"), list) or not machine["options"]:
            return None
        extra = ()
    else:
        return None
    return finding.endpoint, parent, framework, machine.get("on"), extra


def _merged(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_method: dict[str, dict[str, Any]] = {}
    for call in calls:
        found = by_method.get(call["method"])
        if found is None:
            by_method[call["method"]] = {**call, "args": list(call["args"])}
        else:
            found["args"] += [a for a in call["args"] if a not in found["args"]]
    for call in by_method.values():
        # owner__profile loads owner on the way: "owner" beside it says nothing more.
        args = call["args"]
        call["args"] = [a for a in args if not any(o.startswith(f"{a}__") for o in args)]
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
    return f" at {shown_path(location.path)}:{location.line}"


def combine(findings: list[Finding]) -> None:
    """Give each N+1 finding of a loop that reads several relations the eager
    load naming them all (in place)."""
    groups: dict[tuple[Any, ...], list[Finding]] = {}
    for finding in findings:
        key = _key(finding)
        if key is not None:
            groups.setdefault(key, []).append(finding)
    for members in groups.values():
        if len(members) < 2:
            continue
        for finding in members:
            peers = [f for f in members if _alike(f, finding)]
            if len(peers) < 2:
                continue
            together, written = _together([f.evidence["orm_fix"] for f in peers])
            if _loads(finding.evidence["orm_fix"]) == _loads(together):
                continue  # its own fix already loads the others on the way
            others = [
                f"{f.evidence.get('relation') or 'another relation'}{_where(f)}"
                for f in peers
                if f is not finding
            ]
            finding.evidence["orm_fix_together"] = together
            finding.fix = (
                f"{finding.fix} The same loop also reads {', '.join(others)} one row at a "
                f"time: all together, {written}."
            )


def _alike(one: Finding, other: Finding) -> bool:
    """Whether two N+1s of a loop came in a like number of requests (each in at
    least half as many as the other): an eager load of a relation read row by row
    only in a few of them (behind a cache) costs a query in all the others."""
    a, b = one.evidence.get("requests_affected"), other.evidence.get("requests_affected")
    if not isinstance(a, int) or not isinstance(b, int):
        return True
    return 2 * a >= b and 2 * b >= a


def _loads(machine: dict[str, Any]) -> tuple[Any, Any]:
    """What a machine-form fix loads: Django's calls, SQLAlchemy's options."""
    return machine.get("calls"), machine.get("options")


def _together(machines: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """The machine form of the eager loads of every finding, and the code as written."""
    first = machines[0]
    if first["framework"] == "django":
        calls = _merged([c for m in machines for c in m["calls"]])
        together = {**first, "calls": calls}
        if "without" in first:
            # A .specific() fix's calls for Wagtail before 6.3: all of them too.
            together["without"] = _merged([c for m in machines for c in m.get("without", [])])
        return together, render_calls(calls)
    options: list[str] = []
    chains: list[Any] = []
    for machine in machines:
        own_chains = machine.get("chains") or []
        for i, option in enumerate(machine["options"]):
            if option not in options:
                options.append(option)
                chains.append(own_chains[i] if i < len(own_chains) else [])
    # joinedload(Post.owner).joinedload(User.profile) loads the owners on the way.
    kept = [
        i for i, option in enumerate(options)
        if not any(other.startswith(f"{option}.") for other in options)
    ]
    options, chains = [options[i] for i in kept], [chains[i] for i in kept]
    # The classes a chain's later links name, by their key (module.Class).
    classes = []
    for chain in chains:
        for link in chain[1:]:
            module, _, name = str(link.get("class") or "").rpartition(".")
            if module:
                classes.append((module, name))
    imports = options_imports(
        sorted({link["loader"] for chain in chains for link in chain if "loader" in link}),
        classes,
    )
    written = f".options({', '.join(options)})"
    if imports:
        written += f" ({'; '.join(imports)})"
    return {**first, "options": options, "chains": chains}, written

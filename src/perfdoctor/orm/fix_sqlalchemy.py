"""SQLAlchemy fixes, written with the classes and attributes the mappers really have.

The machine-readable form (``Fix.machine``) of an eager load is a chain of
loader options, each on the class that declares the attribute::

    {"framework": "sqlalchemy", "kind": "eager", "on": "app.models.Post",
     "options": ["selectinload(Post.owner).joinedload(Profile.user)"],
     "chains": [[{"loader": "selectinload", "class": "app.models.Post", "attr": "owner"},
                 {"loader": "joinedload", "class": "app.models.Profile", "attr": "user"}]]}

Other kinds (``batch_children``, ``count``, ``exists``, ``batch``) name the
classes and attributes a program needs to build the one query that replaces
the loop's queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from perfdoctor.orm.catalog import Model
from perfdoctor.orm.fix_raw import Fix, look_for, qualified, what
from perfdoctor.orm.resolve import Path, Resolution, Step
from perfdoctor.orm.sa_loading import (
    NOT_EAGER,
    alias_setup,
    children_query,
    count_query,
    loader,
)


def _loader(step: Step) -> str:
    return loader(step.relation.to_many)


def _chain(res: Resolution, path: Path) -> tuple[str, list[dict[str, str]]]:
    links = []
    text = ""
    for i, step in enumerate(path):
        # The first step in a query of its own when the loop's query groups: a
        # pasted joinedload there failed on PostgreSQL (GroupingError) on a real app.
        loader = "selectinload" if i == 0 and res.grouped else _loader(step)
        attr = f"{step.owner.name}.{step.relation.name}"
        text += f"{'.' if i else ''}{loader}({attr})"
        links.append({"loader": loader, "class": step.owner.key, "attr": step.relation.name})
    return text, links


def _pk_attr(model: Model) -> str | None:
    if len(model.pk) != 1:
        return None
    return model.fields.get(model.pk[0])


def _machine(kind: str, on: Model | None, **rest: Any) -> dict[str, Any]:
    return {"framework": "sqlalchemy", "kind": kind, "on": on.key if on else None, **rest}


def options_imports(loaders: list[str], classes: Iterable[tuple[str, str]]) -> list[str]:
    """What a pasted ``.options(...)`` needs imported: its ``loaders``, and the
    ``classes`` (module, name) a chained option names after its first, which the
    view may not import (a pasted joinedload(...).joinedload(UserProfile.user)
    raised NameError on a real app)."""
    imports = [f"from sqlalchemy.orm import {', '.join(loaders)}"] if loaders else []
    others: dict[str, list[str]] = {}
    for module, name in classes:
        names = others.setdefault(module, [])
        if name not in names:
            names.append(name)
    imports += [f"from {module} import {', '.join(names)}" for module, names in others.items()]
    return imports


def _eager(res: Resolution) -> Fix:
    chains = [_chain(res, p) for p in res.paths]
    options = [c[0] for c in chains]
    loop = res.paths[0][0].owner
    if res.grouped and any(not p[0].relation.to_many for p in res.paths):
        why = (
            "one extra SELECT ... IN loads the related rows for every row (not "
            "joinedload: the query groups its rows, and PostgreSQL refuses the joined "
            "columns outside its GROUP BY)."
        )
    elif all(not s.relation.to_many for p in res.paths for s in p):
        why = "the related row comes in the same query through a JOIN."
    else:
        why = "one extra SELECT ... IN loads the collection for every row."
    imports = options_imports(
        sorted({link["loader"] for c in chains for link in c[1]}),
        ((s.owner.module, s.owner.name) for p in res.paths for s in p[1:]),
    )
    text = (
        f"Add .options({', '.join(options)}) to the query the loop iterates "
        f"({'; '.join(imports)}): {why}"
    )
    machine = _machine("eager", loop, options=options, chains=[c[1] for c in chains])
    return Fix(text, what(res), machine)


def _names(res: Resolution, step: Step) -> tuple[str, str, str | None, str | None]:
    assert step.target is not None
    return step.owner.name, step.target.name, _pk_attr(step.owner), _pk_attr(step.target)


def _unnamed(res: Resolution, step: Step) -> bool:
    """A composite primary key has no one attribute to group by: say what to look for."""
    return step.target is None or None in _names(res, step)[2:]


def _legacy(res: Resolution) -> bool:
    """SQLAlchemy before 1.4: no select() on a Session, the Query API instead."""
    version = res.catalog.version if res.catalog else ""
    parts = version.split(".")
    try:
        return (int(parts[0]), int(parts[1])) < (1, 4)
    except (IndexError, ValueError):
        return False


def _run(res: Resolution, code: str) -> str:
    """``session.execute(select(...)...)``, or the same query in the Query API of the
    app's SQLAlchemy when it predates 1.4 (a real app pinned to 1.2 raised on it)."""
    if not _legacy(res):
        return f"session.execute({code})"
    legacy = code.replace("select(", "session.query(", 1).replace(".where(", ".filter(")
    return f"{legacy}.all()" if not legacy.endswith(".all()") else legacy


def _dynamic(res: Resolution) -> Fix:
    step = res.paths[0][-1]
    owner, target, pk, _ = _names(res, step)
    rel = f"{owner}.{step.relation.name}"
    declared = "WriteOnlyMapped" if step.relation.lazy == "write_only" else 'lazy="dynamic"'
    code, alias = children_query(owner, str(pk), step.relation.name, target)
    text = (
        f"{rel} is {declared}: it cannot be eager-loaded (selectinload/joinedload on it "
        f'raise). Declare it lazy="select" and add .options(selectinload({rel})) to the '
        f"query the loop iterates; {rel} is then a plain list, so code calling "
        ".all()/.filter()/.count() on it changes too (the list itself for .all(), len() "
        "for .count()). Or keep it dynamic and load the "
        f"{target} rows of every row in one query before the loop — {alias}{_run(res, code)} "
        f"(ids: the loop's {owner}.{pk} values), grouped by the first column."
    )
    machine = _machine(
        "batch_children",
        step.owner,
        relation=step.relation.name,
        target=step.target.key if step.target else None,
        pk=pk,
        code=code,
        setup=alias_setup(target) if alias else None,
    )
    return Fix(text, what(res), machine)


def _count(res: Resolution) -> Fix:
    step = res.paths[0][-1]
    owner, target, pk, target_pk = _names(res, step)
    rel = f"{owner}.{step.relation.name}"
    code, alias = count_query(owner, str(pk), step.relation.name, target, str(target_pk))
    if res.kind == "exists":
        label = f"has_{step.relation.name}"
        text = (
            f"Test it in the query the loop iterates: select({owner}, {rel}.any()"
            f'.label("{label}")) gives every row a {label} column, instead of one EXISTS '
            "query per row."
        )
        machine = _machine("exists", step.owner, relation=step.relation.name, label=label)
        return Fix(text, what(res), machine)
    text = (
        f"Count {rel} for every row in one query before the loop: {alias}counts = "
        f"dict({_run(res, code).removesuffix('.all()')}.all()) (ids: the loop's "
        f"{owner}.{pk} values; "
        f"from sqlalchemy import func), then counts.get(id, 0) instead of one count per row."
    )
    machine = _machine(
        res.kind,
        step.owner,
        relation=step.relation.name,
        target=step.target.key if step.target else None,
        pk=pk,
        target_pk=target_pk,
        code=code,
        setup=alias_setup(target) if alias else None,
    )
    return Fix(text, what(res), machine)


def write_deferred(res: Resolution) -> Fix:
    assert res.target is not None
    cls = res.target.name
    options = [f"undefer({cls}.{f})" for f in res.fields]
    attrs = ", ".join(f"{cls}.{f}" for f in res.fields)
    text = (
        f"The loop reads {attrs}, deferred on the rows it walks (deferred() or load_only()): "
        f"add .options({', '.join(options)}) to the query the loop iterates (or list it in "
        "load_only(...)), and every row has it without a query of its own."
    )
    chains = [[{"loader": "undefer", "class": res.target.key, "attr": f}] for f in res.fields]
    return Fix(text, what(res), _machine("deferred", res.target, options=options, chains=chains))


def write_lookup(res: Resolution) -> Fix:
    target = res.target
    assert target is not None
    cls = target.name
    attr = f"{cls}.{res.fields[0]}"
    if res.kind in ("count", "exists"):
        code = f"select({attr}, func.count()).where({attr}.in_(keys)).group_by({attr})"
        text = (
            f"Count them for every key in one query before the loop: counts = "
            f"dict(session.execute({code}).all()), then counts.get(key, 0) inside the loop."
        )
    elif res.first_by:
        order = ", ".join(f"{cls}.{n}.desc()" if d else f"{cls}.{n}" for n, d in res.first_by)
        code = (
            f"select({cls}, func.row_number().over(partition_by={attr}, order_by=[{order}])"
            f'.label("n")).where({attr}.in_(keys))'
        )
        text = (
            f"Each row reads one {cls}, the first by order_by({order}): rank them per key "
            f"in one query before the loop — ranked = {code}.subquery(); first = "
            f"aliased({cls}, ranked); session.scalars(select(first).where(ranked.c.n == 1)) "
            f"keyed by .{res.fields[0]} in a dict (from sqlalchemy import func; from "
            "sqlalchemy.orm import aliased; keys: the values the loop looks up) — instead of "
            f"one {cls} query per row."
        )
        machine = _machine(
            "first_per_key", target, attr=res.fields[0], code=code,
            order=[f"{'-' if d else ''}{n}" for n, d in res.first_by],
        )
        return Fix(text, what(res), machine)
    else:
        code = f"select({cls}).where({attr}.in_(keys))"
        group = "grouped by" if res.many else "keyed by"
        text = (
            f"Fetch them for every key in one query before the loop: "
            f"session.scalars({code}) (keys: the values the loop looks up), {group} "
            f".{res.fields[0]} in a dict, instead of one {cls} query per row."
        )
    machine = _machine("batch", target, attr=res.fields[0], many=res.many, code=code)
    return Fix(text, what(res), machine)


def _ambiguous(res: Resolution) -> Fix:
    options = [_chain(res, p)[0] for p in res.candidates]
    names = ", ".join(qualified(res, p) for p in res.candidates)
    text = (
        f"Several relationships load {res.table} the same way ({names}) and the call site "
        "does not say which one the loop reads: eager-load that one on the query the loop "
        f"iterates — {' or '.join(f'.options({o})' for o in options)}."
    )
    machine = _machine(
        "candidates",
        res.candidates[0][0].owner,
        options=options,
        chains=[_chain(res, p)[1] for p in res.candidates],
    )
    return Fix(text, what(res), machine)


def _membership(res: Resolution) -> Fix:
    step = res.paths[0][0]
    owner, rel, target = step.owner, step.relation, step.target
    assert target is not None
    var = owner.name.lower()
    pk = _pk_attr(target) or "id"
    if rel.lazy == "write_only":
        code = (
            f"set(session.scalars({var}.{rel.name}.select()"
            f".with_only_columns({target.name}.{pk})))"
        )
    elif rel.lazy == "dynamic":
        code = f"{{i for (i,) in {var}.{rel.name}.with_entities({target.name}.{pk})}}"
    else:
        code = f"{{t.{pk} for t in {var}.{rel.name}}}"
    text = (
        f"{owner.name}.{rel.name} is asked once per row whether it holds an object (a "
        f"filter on the same {owner.name}'s {rel.name} by that object's key every time, "
        f"often the current user's): read that {owner.name}'s ids once — ids = {code} "
        f"({var}: that {owner.name}) — and replace the check with x.{pk} in ids. Build "
        "the set where the request's reading starts (the view, then flask.g or an "
        "argument), not inside the check: code that changes the relation (follow, "
        "unfollow) also calls the check and must see the change."
    )
    machine = _machine(
        "membership", owner, relation=rel.name, target=target.key, key=pk, var=var, code=code
    )
    return Fix(text, what(res), machine)


def write_relation(res: Resolution) -> Fix | None:
    """The fix for a repeated query a relation explains; None for the other kinds."""
    if res.kind == "membership" and res.paths and res.paths[0][0].target is not None:
        return _membership(res)
    if res.candidates:
        return _ambiguous(res)
    if res.paths:
        steps = [s for p in res.paths for s in p]
        if any(s.target is None for s in steps):
            return look_for(res)
        if res.kind in ("count", "exists"):
            return look_for(res) if _unnamed(res, res.paths[0][-1]) else _count(res)
        lazy = [s for s in steps if s.relation.lazy in NOT_EAGER]
        if lazy:
            last = res.paths[0][-1]
            # Only a relation of the loop's own rows: its ids are what the loop has.
            direct = len(res.paths) == 1 and len(res.paths[0]) == 1
            if direct and lazy == [last] and not _unnamed(res, last):
                return _dynamic(res)
            return look_for(res)
        return _eager(res)
    return None

"""Django fixes, written with the names the models really have.

Every fix comes with a machine-readable form (``Fix.machine``): the queryset
calls to add, so a test (or a tool) can apply it::

    {"framework": "django", "kind": "eager", "on": "blog.Post",
     "calls": [{"method": "select_related", "args": ["owner__user"], "kwargs": {}}]}

``kwargs`` values that are expressions are written as one-key dicts:
``{"Count": "comments"}``, ``{"Exists": {"model": "blog.Comment", "filter":
{"post": {"OuterRef": "pk"}}}}``.  ``"mode": "add"`` on an ``only`` call means
"add to the fields already listed", not "replace them".
"""

from __future__ import annotations

from typing import Any

from perfdoctor.orm.catalog import Model
from perfdoctor.orm.fix_raw import Fix, class_ref, qualified, what
from perfdoctor.orm.resolve import Path, Resolution, Step

# Relations select_related can follow: one row on the other side, in a JOIN.
JOINABLE = frozenset({"fk", "o2o", "parent_link", "reverse_o2o"})


def _call(method: str, *args: str, **kwargs: Any) -> dict[str, Any]:
    return {"method": method, "args": list(args), "kwargs": kwargs}


def _selects(path: Path) -> bool:
    return all(s.relation.kind in JOINABLE for s in path)


def _select_name(step: Step) -> str:
    # select_related follows a reverse one-to-one by its query name.
    if step.relation.kind == "reverse_o2o":
        return step.relation.query_name or step.relation.name
    return step.relation.name


def _query_name(step: Step) -> str:
    return step.relation.query_name or step.relation.name


def _eager_calls(paths: tuple[Path, ...]) -> list[dict[str, Any]]:
    selected = ["__".join(_select_name(s) for s in p) for p in paths if _selects(p)]
    prefetched = ["__".join(s.relation.name for s in p) for p in paths if not _selects(p)]
    calls = []
    if selected:
        calls.append(_call("select_related", *selected))
    if prefetched:
        calls.append(_call("prefetch_related", *prefetched))
    return calls


def render_calls(calls: list[dict[str, Any]]) -> str:
    """Queryset calls as written: ``.select_related("image", "origin")``."""
    return "".join(
        f".{c['method']}({', '.join(_arguments(c))})"
        for c in calls
    )


def _arguments(call: dict[str, Any]) -> list[str]:
    args = [repr(a).replace(chr(39), chr(34)) for a in call["args"]]
    return args + [f"{name}={value!r}" for name, value in call["kwargs"].items()]


def _machine(res: Resolution, kind: str, on: Model | None, **rest: Any) -> dict[str, Any]:
    return {"framework": "django", "kind": kind, "on": on.key if on else None, **rest}


def _eager(res: Resolution) -> Fix:
    calls = _eager_calls(res.paths)
    loop = res.paths[0][0].owner
    kinds = {s.relation.kind for p in res.paths for s in p}
    if all(_selects(p) for p in res.paths):
        why = "the related rows come in the same query through a JOIN."
    elif "gfk" in kinds:
        why = "Django loads the objects of each content type in one query per type."
    else:
        why = "one extra query loads them for every row."
    reads = ", ".join(qualified(res, p) for p in res.paths)
    if res.specific:
        return _specific(res, calls, loop, reads)
    text = f"Add {render_calls(calls)} to the queryset the loop iterates ({reads}): {why}"
    return Fix(text, what(res), _machine(res, "eager", loop, calls=calls))


def _specific(res: Resolution, calls: list[dict[str, Any]], loop: Model, reads: str) -> Fix:
    """Pages loaded by Wagtail's .specific(): the Page queryset cannot name the
    page type's own relations (select_related("image") on it raises FieldError)."""
    subqueries = [{**c, "kwargs": {"for_specific_subqueries": True}} for c in calls]
    text = (
        f"The loop's {loop.name} rows come from Wagtail's .specific() (a query per page "
        f"type, by page_ptr_id IN (...)), and {reads} is read one row at a time. On "
        f"Wagtail 6.3 or later add {render_calls(subqueries)} to the .specific() queryset "
        "the loop iterates (every page type in it needs that field). Before 6.3 the "
        f"Page queryset cannot reach it: query the page type itself with the same "
        f"filters — {loop.name}.objects.live().child_of(page){render_calls(calls)} in place "
        "of page.get_children().live().specific()."
    )
    machine = _machine(res, "eager", loop, calls=subqueries, specific=True, without=calls)
    return Fix(text, what(res), machine)


# What a real DRF app taught: the annotation pasted into get_queryset broke the
# detail view (another queryset, same serializer), reordered the list (an
# annotated queryset drops Meta.ordering), and after a filter on the same
# relation counted the filter's join.
_ANNOTATE_CAVEATS = (
    "Every queryset that feeds that code needs it (elsewhere read "
    'getattr(obj, "{name}", None) and fall back); keep an explicit .order_by() (an '
    "annotated queryset drops Meta.ordering); annotate before a .filter() on the same "
    "relation."
)


def annotation_name(wanted: str, taken: set[str]) -> str:
    """The name an annotation gets: ``wanted`` unless a field or relation has it
    (the static lint names its ``.annotate()`` fixes the same way)."""
    return wanted if wanted not in taken else f"n_{wanted}"


def _free_name(model: Model, wanted: str) -> str:
    return annotation_name(wanted, set(model.fields.values()) | {r.name for r in model.relations})


def _count(res: Resolution) -> Fix:
    path = res.paths[0]
    loop = path[0].owner
    lookup = "__".join(_query_name(s) for s in path)
    name = _free_name(loop, f"{path[-1].relation.name}_count")
    call = _call("annotate", **{name: {"Count": lookup}})
    prefetch = "__".join(s.relation.name for s in path)
    text = (
        f'Count in the query the loop iterates: .annotate({name}=Count("{lookup}")) '
        f"(from django.db.models import Count), then read each row's .{name} instead of "
        f"counting {qualified(res, path)} one row at a time. "
        + _ANNOTATE_CAVEATS.format(name=name)
        + f' For small collections, .prefetch_related("{prefetch}") is the one-line '
        "alternative: .count() then reads the prefetched rows, with no other change."
    )
    return Fix(text, what(res), _machine(res, "count", loop, calls=[call], read=name))


def _exists_filter(res: Resolution, step: Step) -> str | None:
    """The field of the related model that points back at the loop's rows."""
    rel, target = step.relation, step.target
    if target is None:
        return None
    if rel.kind == "reverse_fk" and rel.remote_column:
        name = target.fields.get(rel.remote_column)
        back = target.relation(name) if name else None
        return name if back is not None and back.target == step.owner.key else None
    if rel.kind in ("m2m", "reverse_m2m"):
        for back in target.relations:
            if back.through == rel.through and back.target == step.owner.key:
                return back.query_name or back.name
    return None


def _exists(res: Resolution) -> Fix:
    path = res.paths[0]
    step = path[-1]
    back = _exists_filter(res, step) if len(path) == 1 else None
    if back is None or step.target is None:
        return _count(res)  # EXISTS through a path or a generic relation: a count says as much
    loop = step.owner
    name = _free_name(loop, f"has_{step.relation.name}")
    target = class_ref(res, step.target.key)
    expr = {"Exists": {"model": step.target.key, "filter": {back: {"OuterRef": "pk"}}}}
    text = (
        f"Test it in the query the loop iterates: .annotate({name}=Exists("
        f'{target}.objects.filter({back}=OuterRef("pk")))) '
        f"(from django.db.models import Exists, OuterRef), then read each row's .{name} "
        f"instead of {qualified(res, path)}.exists() one row at a time. "
        + _ANNOTATE_CAVEATS.format(name=name)
        + f' Or .prefetch_related("{step.relation.name}"): .exists() then reads the '
        "prefetched rows."
    )
    call = _call("annotate", **{name: expr})
    return Fix(text, what(res), _machine(res, "exists", loop, calls=[call], read=name))


def write_deferred(res: Resolution) -> Fix:
    assert res.target is not None
    fields = ", ".join(f'"{f}"' for f in res.fields)
    reads = ", ".join(f"{res.target.name}.{f}" for f in res.fields)
    text = (
        f"The loop reads {reads}, left out of the rows by .only()/.defer(): add {fields} to "
        f".only(...) (or drop it from .defer(...)) on the queryset the loop iterates, and "
        "every row has it without a query of its own."
    )
    call = {**_call("only", *res.fields), "mode": "add"}
    return Fix(text, what(res), _machine(res, "deferred", res.target, calls=[call]))


def write_lookup(res: Resolution) -> Fix:
    target = res.target
    assert target is not None and res.catalog is not None
    cls = class_ref(res, target.key)
    field = res.fields[0]
    # An FK is filtered by its field name and read back by its column (post_id).
    attr = res.column if res.column and target.relation(field) is not None else field
    if res.kind in ("count", "exists"):
        text = (
            f"Count them for every key at once before the loop: counts = dict({cls}.objects"
            f'.filter({field}__in=keys).values_list("{attr}").annotate(n=Count("pk"))) '
            "(keys: the values the loop filters on), then counts.get(key, 0) inside the loop."
        )
    elif res.many:
        text = (
            f"Fetch them for every key in one query before the loop: {cls}.objects"
            f".filter({field}__in=keys), grouped by .{attr} in a dict (keys: the values the "
            f"loop filters on), instead of one {cls} query per row."
        )
    elif res.first_by:
        order = ", ".join(f'"{"-" if desc else ""}{name}"' for name, desc in res.first_by)
        var = f"first_{cls.lower()}_id"
        text = (
            f"Each row reads one {cls}, the first by order_by({order}): annotate the "
            f"queryset the loop iterates with its id, .annotate({var}=Subquery({cls}.objects"
            f'.filter({field}=OuterRef("pk")).order_by({order}).values("pk")[:1])) '
            "(from django.db.models import OuterRef, Subquery), then fetch them all at once, "
            f"{cls}.objects.in_bulk([row.{var} for row in rows]), and read the dict inside "
            f"the loop: two queries instead of one per row (on PostgreSQL, "
            f'{cls}.objects.filter({field}__in=keys).order_by("{attr}", {order})'
            f'.distinct("{attr}") also gives one per key).'
        )
        machine = _machine(
            res, "first_per_key", target, field=field, attr=attr,
            order=[f"{'-' if d else ''}{n}" for n, d in res.first_by], annotation=var,
        )
        return Fix(text, what(res), machine)
    elif res.column and res.column in {c.lower() for c in target.pk}:
        text = (
            f"Fetch them all before the loop: by_id = {cls}.objects.in_bulk(ids) (ids: the "
            f"keys the loop looks up), then by_id[id] inside the loop instead of one "
            f"{cls}.objects.get() per row."
        )
    else:
        text = (
            f"Fetch them all before the loop: by_{field} = {{o.{attr}: o for o in "
            f"{cls}.objects.filter({field}__in=values)}}, then look each one up in the dict "
            f"instead of one {cls} query per row."
        )
    machine = _machine(res, "batch", target, field=field, attr=attr, many=res.many)
    return Fix(text, what(res), machine)


def write_tree_children(res: Resolution) -> Fix:
    """Each row's get_children() (django-treebeard, Wagtail's pages): one query per
    row whose key is a path range, so no filter(...__in=keys) can batch it."""
    target = res.target
    assert target is not None
    cls = class_ref(res, target.key)
    if res.aggregate in ("exists", "count"):
        collect = (
            f"parents = {{c.path[:-{cls}.steplen] for c in children}}, then row.path in "
            "parents inside the loop"
            if res.aggregate == "exists"
            else f"counts = Counter(c.path[:-{cls}.steplen] for c in children), then "
            "counts[row.path] inside the loop"
        )
    else:
        collect = (
            f"by_parent = {{}}; for c in children: by_parent.setdefault(c.path[:-{cls}.steplen], "
            "[]).append(c), then by_parent.get(row.path, []) inside the loop"
        )
    text = (
        "Each row asks the tree for its own children (treebeard's get_children(): "
        "depth = ? AND path BETWEEN ? AND ?), a query per row. When the rows are "
        "siblings (a menu: the children of one page), load the level below them once "
        f"before the loop: children = {cls}.objects.filter(depth=parent.depth + 2, "
        "path__startswith=parent.path) with the loop's own filters (.live().in_menu() "
        f"for Wagtail's menus); {collect}."
    )
    return Fix(text, what(res), _machine(res, "tree_children", target))


def _ambiguous(res: Resolution) -> Fix:
    options = [render_calls(_eager_calls((p,))) for p in res.candidates]
    names = ", ".join(qualified(res, p) for p in res.candidates)
    table = res.table or "the related table"
    text = (
        f"Several relations load {table} the same way ({names}) and the call site does "
        f"not say which one the loop reads: add that one to the queryset the loop "
        f"iterates — {' or '.join(options)}."
    )
    machine = _machine(
        res,
        "candidates",
        res.candidates[0][0].owner,
        candidates=[_eager_calls((p,)) for p in res.candidates],
    )
    return Fix(text, what(res), machine)


def _membership(res: Resolution) -> Fix:
    step = res.paths[0][0]
    owner, rel = step.owner, step.relation
    var = owner.name.lower()
    text = (
        f"{owner.name}.{rel.name} is asked once per row whether it holds an object "
        f"(.filter(pk=x.pk).exists() on the same {owner.name} every time, often the "
        f"current user's): read that {owner.name}'s ids once — ids = "
        f'set({var}.{rel.name}.values_list("pk", flat=True)) — and replace the check '
        "with x.pk in ids where the rows are read. In a DRF serializer, build the set "
        "once per request in the view (list(), or get_serializer_context) and read it "
        "from the serializer's context in the method field; leave the model's check "
        "for code that changes the relation and must see the change."
    )
    machine = _machine(res, "membership", owner, relation=rel.name, values_list="pk")
    return Fix(text, what(res), machine)


def write_relation(res: Resolution) -> Fix | None:
    """The fix for a repeated query a relation explains; None for the other kinds."""
    if res.kind == "membership" and res.paths:
        return _membership(res)
    if res.candidates:
        return _ambiguous(res)
    if res.paths:
        if res.kind == "count":
            return _count(res)
        if res.kind == "exists":
            return _exists(res)
        return _eager(res)
    return None

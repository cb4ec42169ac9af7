"""PD122: a DRF serializer field reads a relation of every object a list view returns,
and the view's queryset does not load it (N+1 queries).

Reported at the serializer field (where the runtime report says the query comes
from), once per view that lists through it, with the view's whole fixed queryset.
"""

from __future__ import annotations

import ast
from pathlib import PurePosixPath

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.drf import Check, Need, checks, covered, needs
from perfdoctor.lint.drf_views import ALL, View, eager_of, views
from perfdoctor.lint.project import Project
from perfdoctor.orm.fix_django import annotation_name


def _count(project: Project, model: str, rel: str) -> str:
    """``name=Count("lookup")``, named as the runtime's fix names it."""
    found = project.model(model)
    taken = (found.fields | set(found.relations)) if found else set()
    lookup = found.query_name(rel) if found else rel
    return f'{annotation_name(f"{rel}_count", taken)}=Count("{lookup}")'


def _fixed_queryset(
    project: Project, model: str, select: set[str], prefetch: set[str], missing: list[Need]
) -> str:
    select = set(select)
    prefetch = set(prefetch)
    counts = []
    for need in missing:
        if need.method == "count" and "__" not in need.lookup:
            counts.append(need.lookup)
        elif need.method in (None, "all", "exists", "count"):
            (prefetch if need.many else select).add(need.lookup)
    text = f"{model}.objects"
    if select:
        text += ".select_related(" + ", ".join(f'"{s}"' for s in sorted(select)) + ")"
    if prefetch:
        text += ".prefetch_related(" + ", ".join(f'"{p}"' for p in sorted(prefetch)) + ")"
    for rel in sorted(set(counts)):
        text += f".annotate({_count(project, model, rel)})"
    return text


def _fix(project: Project, model: str, need: Need) -> str:
    if need.method == "count" and "__" not in need.lookup:
        count = _count(project, model, need.lookup)
        name = count.split("=", 1)[0]
        return (
            f"add .annotate({count}) to its queryset and read "
            f'obj.{name} here (or .prefetch_related("{need.lookup}"))'
        )
    if need.method not in (None, "all", "exists", "count"):
        return (
            f"{need.method}() queries even on prefetched rows: prefetch once with "
            f'Prefetch("{need.lookup}", queryset=..., to_attr="...") and read the list'
        )
    method = "prefetch_related" if need.many else "select_related"
    return f'add .{method}("{need.lookup}") to its queryset'


def _edit_line(view: View) -> int:
    """The line to change: the ``Model.objects`` queryset the view's rows come from."""
    for value in reversed(view.querysets):
        base = value
        while isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute):
            base = base.func.value
        if isinstance(base, ast.Attribute) and base.attr == "objects":
            return value.lineno
    return view.querysets[0].lineno


def findings(project: Project) -> dict[str, list[tuple[str, ast.AST, str, str]]]:
    """path -> (code, node, message, relation) for every list view of the project; once."""
    if project.drf.reported is not None:
        return project.drf.reported
    out: dict[str, list[tuple[str, ast.AST, str, str]]] = {}
    for view in views(project.drf.classes):
        serializer = project.serializer(view.serializer)
        if serializer is None:
            continue
        for check in checks(project, serializer):
            out.setdefault(check.serializer.path, []).append(_check_finding(view, check))
        for path, node, message, relation in _view_findings(project, view):
            out.setdefault(path, []).append(("PD122", node, message, relation))
    project.drf.reported = out
    return out


def _check_finding(view: View, check: Check) -> tuple[str, ast.AST, str, str]:
    read = check.read
    var = check.owner.lower()
    message = (
        f"{check.serializer.name}.{read.field} calls {read.check}() for each row "
        f"{view.name} lists ({PurePosixPath(view.path).name}:{_edit_line(view)}), and "
        f"{check.owner}.{read.check} queries {check.owner}.{check.relation} each time: read "
        f'the ids once — ids = set({var}.{check.relation}.values_list("pk", flat=True)) — '
        "in the view (list() or get_serializer_context) and test obj.pk in ids here, "
        "from the serializer's context"
    )
    return ("PD123", read.node, message, f"{check.owner}.{check.relation}")


def _view_findings(project: Project, view: View) -> list[tuple[str, ast.AST, str, str]]:
    serializer = project.serializer(view.serializer)
    if serializer is None or not view.known:
        return []
    name, select, prefetch = eager_of(view.querysets)
    name = name or serializer.model
    model = project.model(name)
    if model is None or model.orm != "django" or ALL in select | prefetch:
        return []
    missing = [n for n in needs(project, serializer, model) if not covered(n, select, prefetch)]
    if not missing:
        return []
    where = f"{PurePosixPath(view.path).name}:{_edit_line(view)}"
    whole = _fixed_queryset(project, model.name, select, prefetch, missing)
    out = []
    seen: set[tuple[int, str, str | None]] = set()
    for need in missing:
        key = (id(need.read.node), need.lookup, need.method)
        if key in seen:
            continue
        seen.add(key)
        read = need.lookup.replace("__", ".") + (f".{need.method}()" if need.method else "")
        message = (
            f"{need.serializer.name}.{need.read.field} reads {read} of each row "
            f"{view.name} lists ({where}), one query per row: "
            f"{_fix(project, model.name, need)}; queryset = {whole}"
        )
        out.append((need.serializer.path, need.read.node, message, need.relation))
    return out


@rule(
    "PD122",
    "serializer-relation-not-loaded",
    "A DRF serializer reads a relation of each row a list view returns, "
    "and the view's queryset does not load it (N+1 queries).",
    nodes=(ast.Module,),
    triggers=("Serializer",),
)
def check(node: ast.Module, ctx: Context) -> None:
    for code, field_node, message, relation in findings(ctx.project).get(ctx.path, ()):
        if code == "PD122":
            ctx.report(code, field_node, message, relation=relation)

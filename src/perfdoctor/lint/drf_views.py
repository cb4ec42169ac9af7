"""Django REST Framework list views: which classes list rows through a serializer,
and the querysets their rows come from (``queryset``, ``get_queryset``, inherited
from project base classes)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

ALL = "*"
_LIST_BASES = {
    "ModelViewSet", "ReadOnlyModelViewSet", "ListAPIView", "ListCreateAPIView",
    "ListModelMixin",
}  # fmt: skip


def short_name(node: ast.expr) -> str | None:
    """``Foo`` of ``Foo`` or ``mod.Foo``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _const(node: ast.expr | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


@dataclass
class View:
    name: str
    path: str
    serializer: str
    # The queryset expressions the list endpoint may return, and whether they are all known.
    querysets: list[ast.expr] = field(default_factory=list)
    known: bool = True


@dataclass
class ViewClass:
    """What one class body says; a view's effective settings come from its bases too."""

    name: str
    path: str
    bases: list[str]
    serializer: str | None = None
    queryset: ast.expr | None = None
    get_queryset: ast.FunctionDef | None = None
    lists: bool = False


def view_class(node: ast.ClassDef, path: str) -> ViewClass:
    bases = [short_name(b) or "" for b in node.bases]
    found = ViewClass(node.name, path, bases, lists=bool(set(bases) & _LIST_BASES))
    for stmt in node.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = short_name(stmt.targets[0])
            if target == "serializer_class":
                found.serializer = short_name(stmt.value)
            elif target == "queryset":
                found.queryset = stmt.value
        elif isinstance(stmt, ast.FunctionDef):
            if stmt.name == "get_queryset":
                found.get_queryset = stmt
            elif stmt.name == "list":
                found.lists = True
    return found


def _lineage(classes: dict[str, list[ViewClass]], cls: ViewClass) -> list[ViewClass]:
    """The class and its project bases (by name, when one class has it), nearest first."""
    out, stack, seen = [], [cls], set()
    while stack:
        current = stack.pop(0)
        if current.name in seen:
            continue
        seen.add(current.name)
        out.append(current)
        for base in current.bases:
            found = classes.get(base, [])
            if len(found) == 1:
                stack.append(found[0])
    return out


def _view(classes: dict[str, list[ViewClass]], cls: ViewClass) -> View | None:
    lineage = _lineage(classes, cls)
    serializer = next((c.serializer for c in lineage if c.serializer), None)
    queryset = next((c.queryset for c in lineage if c.queryset is not None), None)
    get_queryset = next((c.get_queryset for c in lineage if c.get_queryset), None)
    if serializer is None or not any(c.lists for c in lineage):
        return None
    view = View(cls.name, cls.path, serializer)
    if get_queryset is None:
        if queryset is None:
            return None
        view.querysets.append(queryset)
        return view
    returns = [n.value for n in ast.walk(get_queryset) if isinstance(n, ast.Return) and n.value]
    assigned: dict[str, list[ast.expr]] = {}
    for n in ast.walk(get_queryset):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            assigned.setdefault(n.targets[0].id, []).append(n.value)
    for value in returns:
        if not _expand(value, assigned, queryset, view.querysets, set()):
            view.known = False
    return view


def views(classes: dict[str, list[ViewClass]]) -> list[View]:
    """Every list view of the project: a class that (itself or through its bases) has a
    serializer_class and a list action."""
    out = []
    for found in classes.values():
        for cls in found:
            view = _view(classes, cls)
            if view is not None:
                out.append(view)
    return out


def _chain_base(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        node = node.func.value
    return node


def _expand(
    value: ast.expr,
    assigned: dict[str, list[ast.expr]],
    class_qs: ast.expr | None,
    out: list[ast.expr],
    seen: set[str],
) -> bool:
    """The querysets a get_queryset return stands for; False when one is not known."""
    out.append(value)
    base = _chain_base(value)
    if isinstance(base, ast.Attribute) and base.attr == "objects":
        return True
    if (
        isinstance(base, ast.Attribute)
        and base.attr == "queryset"
        and isinstance(base.value, ast.Name)
        and base.value.id == "self"
    ):
        if class_qs is None:
            return False
        return _expand(class_qs, assigned, None, out, seen)
    if isinstance(base, ast.Name) and base.id in assigned and base.id not in seen:
        seen = seen | {base.id}
        return all(_expand(v, assigned, class_qs, out, seen) for v in assigned[base.id])
    return isinstance(base, ast.Name) and base.id in seen


def eager_of(querysets: list[ast.expr]) -> tuple[str | None, set[str], set[str]]:
    """The model and the select_related / prefetch_related lookups of a view's querysets."""
    model = None
    select: set[str] = set()
    prefetch: set[str] = set()
    for value in querysets:
        node: ast.expr = value
        while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = node.func.attr
            if method in ("select_related", "prefetch_related"):
                names = _lookups(node)
                (select if method == "select_related" else prefetch).update(names)
            node = node.func.value
        if isinstance(node, ast.Attribute) and node.attr == "objects":
            model = model or short_name(node.value)
    return model, select, prefetch


def _lookups(call: ast.Call) -> set[str]:
    if not call.args:
        return {ALL}
    names = set()
    for arg in call.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            names.add(arg.value)
        elif isinstance(arg, ast.Call) and arg.args and isinstance(_const(arg.args[0]), str):
            names.add(str(_const(arg.args[0])))  # Prefetch("lookup", ...)
        else:
            return {ALL}
    return names

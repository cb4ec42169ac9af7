"""What Django REST Framework code says about the relations a list endpoint reads.

Serializers (nested serializers, ``source="a.b"``, related fields, a
``SerializerMethodField``'s ``get_x(self, obj)`` reading ``obj.rel``, many-valued
relations named in ``Meta.fields``) and the list views that use them
(``serializer_class`` with ``queryset`` / ``get_queryset``), gathered from every
tree at the top level, then matched once the project's models are known.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from perfdoctor.lint.drf_views import ALL, ViewClass, short_name, view_class

if TYPE_CHECKING:
    from perfdoctor.lint.project import Model, Project

# Related fields that read only the related primary key (DRF's pk-only optimisation):
# on a foreign key they cost no query.
_PK_ONLY = {"PrimaryKeyRelatedField", "HyperlinkedRelatedField"}
# Manager calls the prefetched rows answer; any other call on the manager queries.
_CACHED = {"all", "count", "exists", None}
# Text a module holding a view, or a base class of one, has.
_VIEW_HINTS = ("serializer_class", "get_queryset", "ViewSet", "APIView", "ListModelMixin")
_DEPTH = 4


@dataclass
class Read:
    """One relation path a serializer field reads from each object."""

    node: ast.AST  # where to report: the field's assignment
    field: str
    chain: tuple[str, ...]  # attributes from the object: ("author", "user", "username")
    nested: str | None = None  # the nested serializer class, read past the chain
    method: str | None = None  # a manager call on the last relation: "count", "filter"...
    pk_only: bool = False
    # A method called with the object (``profile.has_favorited(obj)``): a model's
    # check of one of its relations, one query per row.
    check: str | None = None


@dataclass
class Serializer:
    name: str
    path: str
    model: str | None
    reads: list[Read] = field(default_factory=list)


@dataclass
class Need:
    read: Read
    serializer: Serializer
    lookup: str  # "author__user", "tags"
    many: bool
    relation: str  # "Article.tags" (the first hop's owner and name, as runtime names it)
    method: str | None


@dataclass
class Check:
    """A model method asked per row whether its relation holds the row."""

    read: Read
    serializer: Serializer
    owner: str  # the model defining the method
    relation: str


@dataclass
class Facts:
    serializers: dict[str, list[Serializer]] = field(default_factory=dict)
    # Classes that may be views (or their bases), by name.
    classes: dict[str, list[ViewClass]] = field(default_factory=dict)
    # path -> (field node, message, relation): worked out once, on the first file that asks.
    reported: dict[str, list[tuple[str, ast.AST, str, str]]] | None = None


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _const(node: ast.expr | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _obj_reads(func: ast.FunctionDef, stmt: ast.AST, field_name: str) -> list[Read]:
    args = func.args.args
    if len(args) < 2:
        return []
    obj = args[1].arg
    reads = []
    for node in ast.walk(func):
        if not isinstance(node, ast.Attribute) or isinstance(node.value, ast.Attribute):
            continue
        if not (isinstance(node.value, ast.Name) and node.value.id == obj):
            continue
        reads.append(Read(stmt, field_name, _chain_up(func, node), method=None))
    aliases = {obj} | {
        t.id
        for n in ast.walk(func)
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Name) and n.value.id == obj
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    for node in ast.walk(func):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in aliases
        ):
            reads.append(Read(node, field_name, (), check=node.func.attr))
    return reads


def _chain_up(func: ast.FunctionDef, base: ast.Attribute) -> tuple[str, ...]:
    # obj.a.b.c: ast nests it inside out; find the longest chain whose root is ``base``.
    best: tuple[str, ...] = (base.attr,)
    for node in ast.walk(func):
        chain: list[str] = []
        cur: ast.expr = node  # type: ignore[assignment]
        while isinstance(cur, ast.Attribute):
            chain.append(cur.attr)
            if cur is base:
                if len(chain) > len(best):
                    best = tuple(reversed(chain))
                break
            cur = cur.value
    return best


def _method_calls(func: ast.FunctionDef, reads: list[Read]) -> None:
    """obj.rel.count(): the last name of the chain is a manager call, not an attribute."""
    calls = {
        id(n.func): n.func.attr
        for n in ast.walk(func)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
    }
    for node in ast.walk(func):
        if isinstance(node, ast.Attribute) and id(node) in calls:
            chain = []
            cur: ast.expr = node
            while isinstance(cur, ast.Attribute):
                chain.append(cur.attr)
                cur = cur.value
            chain.reverse()
            for read in reads:
                if read.chain == tuple(chain):
                    read.chain, read.method = read.chain[:-1], calls[id(node)]


def _serializer(node: ast.ClassDef, path: str) -> Serializer:
    methods = {s.name: s for s in node.body if isinstance(s, ast.FunctionDef)}
    out = Serializer(node.name, path, None)
    declared: set[str] = set()
    meta_fields: list[str] = []
    meta_node: ast.AST = node
    for stmt in node.body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == "Meta":
            for item in stmt.body:
                if not (isinstance(item, ast.Assign) and len(item.targets) == 1):
                    continue
                target = short_name(item.targets[0])
                if target == "model":
                    out.model = short_name(item.value)
                elif target == "fields" and isinstance(item.value, (ast.List, ast.Tuple)):
                    meta_fields = [str(_const(e)) for e in item.value.elts]
                    meta_node = item
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
            continue
        name = short_name(stmt.targets[0])
        call = stmt.value
        if name is None or not isinstance(call, ast.Call):
            continue
        declared.add(name)
        kind = short_name(call.func) or ""
        if kind == "SerializerMethodField":
            method = _const(_kw(call, "method_name")) or f"get_{name}"
            func = methods.get(str(method))
            if func is not None:
                reads = _obj_reads(func, stmt, name)
                _method_calls(func, reads)
                out.reads.extend(reads)
            continue
        source = _const(_kw(call, "source"))
        if source == "*":
            continue
        chain = tuple(str(source).split(".")) if isinstance(source, str) else (name,)
        nested = kind if kind.endswith("Serializer") else None
        out.reads.append(Read(stmt, name, chain, nested, pk_only=kind in _PK_ONLY))
    for name in meta_fields:
        if name not in declared:
            # A relation left to ModelSerializer: PrimaryKeyRelatedField, pk only on
            # a foreign key, a manager read on a many-valued one.
            out.reads.append(Read(meta_node, name, (name,), pk_only=True))
    return out


def add_tree(facts: Facts, path: str, source: str, tree: ast.Module) -> None:
    has_serializer = "Serializer" in source
    has_view = any(t in source for t in _VIEW_HINTS)
    if not (has_serializer or has_view):
        return
    for stmt in tree.body:
        if not isinstance(stmt, ast.ClassDef):
            continue
        bases = [short_name(b) or "" for b in stmt.bases]
        if has_serializer and any(b.endswith("Serializer") for b in bases):
            s = _serializer(stmt, path)
            facts.serializers.setdefault(s.name, []).append(s)
        elif has_view:
            cls = view_class(stmt, path)
            facts.classes.setdefault(cls.name, []).append(cls)


def needs(project: Project, serializer: Serializer, model: Model, depth: int = 0) -> list[Need]:
    """Every relation lookup the serializer reads per object of ``model``."""
    out: list[Need] = []
    if depth > _DEPTH:
        return out
    for read in serializer.reads:
        current: Model | None = model
        hops: list[str] = []
        many = False
        last_kind = None
        for attr in read.chain:
            if current is None or attr not in current.relations:
                break
            last_kind = current.relations[attr]
            many = many or last_kind == "many"
            hops.append(attr)
            current = project.model(current.targets.get(attr))
        if not hops:
            continue
        whole = len(hops) == len(read.chain)
        if read.pk_only and whole and last_kind == "fk":
            continue  # only the foreign key's column is read
        lookup = "__".join(hops)
        method = read.method if whole else None
        relation = f"{model.name}.{hops[0]}"
        out.append(Need(read, serializer, lookup, many, relation, method))
        if read.nested and whole and current is not None:
            inner = project.serializer(read.nested)
            if inner is not None:
                for need in needs(project, inner, current, depth + 1):
                    need.lookup = f"{lookup}__{need.lookup}"
                    need.many = need.many or many
                    out.append(need)
    return out


def checks(project: Project, serializer: Serializer, depth: int = 0) -> list[Check]:
    """The membership checks a serializer (and the ones nested in it) makes per object."""
    out: list[Check] = []
    if depth > _DEPTH:
        return out
    for read in serializer.reads:
        if read.check is not None:
            owners = [m for m in project.models.values() if m.checks.get(read.check) in m.relations]
            if len(owners) == 1:
                owner = owners[0]
                out.append(Check(read, serializer, owner.name, owner.checks[read.check]))
        elif read.nested:
            inner = project.serializer(read.nested)
            if inner is not None:
                out += checks(project, inner, depth + 1)
    return out


def covered(need: Need, select: set[str], prefetch: set[str]) -> bool:
    if need.method not in _CACHED:
        return False  # filter()/order_by()... query even on prefetched rows
    loaded = select | prefetch
    if ALL in loaded:
        return True
    return any(e == need.lookup or e.startswith(need.lookup + "__") for e in loaded)

"""marshmallow schemas as the source declares them: the attribute each dumped field
reads, the schema a ``fields.Nested``/``fields.Pluck`` dumps it with, and the
module-level instances (``articles_schema = ArticleSchema(many=True)``)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfdoctor.lint.project import Project

_NESTING = {"Nested", "Pluck"}
_WRAPPING = {"List", "Tuple"}


@dataclass
class Dumped:
    attr: str  # the first attribute of the object the field reads
    nested: str | None = None  # the schema class it dumps the related object with


@dataclass
class SchemaFacts:
    name: str
    bases: list[str]
    fields: dict[str, Dumped] = field(default_factory=dict)


def _const(node: ast.expr | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _callee(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return None


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _base_names(node: ast.ClassDef) -> list[str]:
    return [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases]


def _schema_ref(node: ast.expr, own: str) -> str | None:
    value = _const(node)
    if isinstance(value, str):
        return own if value == "self" else value.rsplit(".", 1)[-1]
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):  # Nested(ProfileSchema(only=...))
        return _schema_ref(node.func, own)
    if isinstance(node, ast.Lambda):
        return _schema_ref(node.body, own)
    return None


def _dumped(name: str, call: ast.Call, own: str) -> Dumped | None:
    kind = _callee(call)
    if kind is None or _const(_kw(call, "load_only")) is True:
        return None
    if kind in _WRAPPING and call.args and isinstance(call.args[0], ast.Call):
        inner = _dumped(name, call.args[0], own)  # List(Nested(X))
        if inner is not None:
            inner.attr = _attr(name, call)
        return inner
    if kind == "Method":
        return None  # reads whatever the method reads: not followed
    dumped = Dumped(_attr(name, call))
    if kind in _NESTING and call.args:
        dumped.nested = _schema_ref(call.args[0], own)
    return dumped


def _attr(name: str, call: ast.Call) -> str:
    value = _const(_kw(call, "attribute"))
    return value.split(".", 1)[0] if isinstance(value, str) and value else name


def add(project: Project, tree: ast.Module) -> None:
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef):
            bases = _base_names(stmt)
            if not any(b.endswith("Schema") for b in bases):
                continue
            schema = SchemaFacts(stmt.name, bases)
            for item in stmt.body:
                if (
                    isinstance(item, ast.Assign)
                    and len(item.targets) == 1
                    and isinstance(item.targets[0], ast.Name)
                    and isinstance(item.value, ast.Call)
                ):
                    dumped = _dumped(item.targets[0].id, item.value, stmt.name)
                    if dumped is not None:
                        schema.fields[item.targets[0].id] = dumped
            project.schemas[stmt.name] = schema
        elif (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and isinstance(stmt.value, ast.Call)
        ):
            cls = _callee(stmt.value)
            many_kw = _kw(stmt.value, "many") is not None
            if cls and (cls.endswith(("Schema", "Schemas")) or cls in project.schemas or many_kw):
                many = _const(_kw(stmt.value, "many")) is True
                project.schema_instances[stmt.targets[0].id] = (cls, many)


def fields_of(project: Project, name: str) -> dict[str, Dumped]:
    """Every field a schema dumps, its bases' first (a subclass overrides)."""
    out: dict[str, Dumped] = {}
    chain: list[SchemaFacts] = []
    stack = [name]
    while stack and len(chain) < 10:
        schema = project.schemas.get(stack.pop())
        if schema is None or schema in chain:
            continue
        chain.append(schema)
        stack.extend(schema.bases)
    for schema in reversed(chain):
        out.update(schema.fields)
    return out

"""SQLAlchemy mapped classes as the source declares them, read the way the mappers
read them at runtime (``perfdoctor.orm.sqlalchemy_meta``): a relation is named by
its attribute (a ``backref`` names the reverse one on the other class), it is
to-many when ``uselist`` says so, else when the annotation is a collection, else
when the class holds no foreign key to the target (SQLAlchemy's own direction
rule); ``lazy=`` and ``WriteOnlyMapped``/``DynamicMapped`` give its strategy.

1.3 (``Column`` + ``relationship("X", backref=...)``), 1.4 and 2.x
(``Mapped[list["X"]] = relationship(...)``) styles, and Flask-SQLAlchemy's
default table names.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from perfdoctor.orm.sa_loading import EAGER, LAZY_ALIASES, NOT_EAGER

if TYPE_CHECKING:
    from perfdoctor.lint.project import Model, Project

_WRAPPERS = {
    "Mapped", "WriteOnlyMapped", "DynamicMapped", "list", "List", "set", "Set", "Optional",
    "None", "Collection", "Sequence", "Iterable", "AppenderQuery", "Query", "typing", "so",
    "orm", "sa", "sqlalchemy",
}  # fmt: skip
# Column helpers common in Flask apps (cookiecutter-flask's reference_col("users")):
# a foreign key column to the table named first.
COLUMN_HELPERS = {"reference_col"}
_COLLECTIONS = ("list[", "List[", "set[", "Set[", "Collection[", "Sequence[")
_NAME = re.compile(r"[A-Za-z_][\w.]*")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass
class Declared:
    """A ``relationship()`` whose direction needs the target class to be known."""

    name: str
    target: str
    secondary: bool
    self_remote: bool  # remote_side= given: a self-referential many-to-one
    known: bool  # uselist=, a collection annotation, secondary=: no need of the target
    backref: str | None = None
    backref_lazy: str | None = None
    backref_uselist: bool | None = None


@dataclass
class MethodFacts:
    reads: set[str] = field(default_factory=set)  # self.rel read
    queried: set[str] = field(default_factory=set)  # self.rel.method(...) called
    calls: set[str] = field(default_factory=set)  # self.other_method(...)
    counted: set[str] = field(default_factory=set)  # queried in a statement that counts
    params: list[str] = field(default_factory=list)  # after self
    # parameter -> what runs only when the caller leaves it None
    unless: dict[str, MethodFacts] = field(default_factory=dict)


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _const(node: ast.expr | None) -> object:
    return node.value if isinstance(node, ast.Constant) else ...


def _callee(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return None


def _class_name(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.rsplit(".", 1)[-1] or None
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Lambda):
        return _class_name(node.body)
    return None


def _annotation_target(annotation: ast.expr) -> str | None:
    text = ast.unparse(annotation).replace("'", " ").replace('"', " ")
    names = [n.rsplit(".", 1)[-1] for n in _NAME.findall(text)]
    names = [n for n in names if n not in _WRAPPERS]
    return names[-1] if names else None


def strategy(lazy: ast.expr | None) -> str:
    value = _const(lazy)
    if value is ...:
        return "select" if lazy is None else "unknown"
    if isinstance(value, str):
        return value
    return LAZY_ALIASES.get(value, "unknown")


def table_name(cls: ast.ClassDef) -> str:
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__tablename__" for t in stmt.targets
        ):
            value = _const(stmt.value)
            if isinstance(value, str):
                return value
    return _CAMEL.sub("_", cls.name).lower()  # Flask-SQLAlchemy's default


def column(model: Model, name: str, call: ast.Call) -> None:
    """A ``Column``/``mapped_column``: its primary key, and the table its ForeignKey names."""
    if _const(_kw(call, "primary_key")) is True and model.pk is None:
        model.pk = name
    table = _const(call.args[0]) if call.args else None
    if _callee(call) in COLUMN_HELPERS and isinstance(table, str):
        model.fk_refs.add(table)
    for arg in call.args:
        if _callee(arg) == "ForeignKey" and isinstance(arg, ast.Call) and arg.args:
            ref = arg.args[0]
            value = _const(ref)
            if isinstance(value, str):
                model.fk_refs.add(value.rsplit(".", 1)[0].rsplit(".", 1)[-1])
            elif isinstance(ref, ast.Attribute) and isinstance(ref.value, ast.Name):
                model.fk_refs.add(f"class:{ref.value.id}")


def relationship(model: Model, stmt: ast.stmt, name: str, call: ast.Call) -> None:
    annotation = stmt.annotation if isinstance(stmt, ast.AnnAssign) else None
    target = _class_name(call.args[0]) if call.args else None
    if target is None and annotation is not None:
        target = _annotation_target(annotation)
    hint = ast.unparse(annotation) if annotation is not None else ""
    lazy = strategy(_kw(call, "lazy"))
    if hint.startswith(("WriteOnlyMapped", "so.WriteOnlyMapped", "orm.WriteOnlyMapped")):
        lazy = "write_only"
    elif "DynamicMapped[" in hint and lazy == "select":
        lazy = "dynamic"
    if lazy in NOT_EAGER:
        model.dynamic[name] = lazy
    elif lazy in EAGER or lazy != "select":
        model.eager.add(name)  # loaded with its parent, or a strategy not known: silent
    if target:
        model.targets[name] = target
    uselist = _const(_kw(call, "uselist"))
    secondary = _kw(call, "secondary") is not None
    if isinstance(uselist, bool):
        model.relations[name] = "many" if uselist else "fk"
    elif lazy in NOT_EAGER or secondary or any(c in hint for c in _COLLECTIONS):
        model.relations[name] = "many"
    elif annotation is not None:
        model.relations[name] = "fk"
    else:
        model.relations[name] = "many"  # until finish() knows the target's table
    known = annotation is not None or isinstance(uselist, bool) or secondary
    declared = Declared(name, target or "", secondary, _kw(call, "remote_side") is not None, known)
    _backref(call, declared)
    if not known or declared.backref:
        model.pending.append(declared)


def _backref(call: ast.Call, declared: Declared) -> None:
    node = _kw(call, "backref")
    if node is None:
        return
    if isinstance(node, ast.Call) and node.args:
        value = _const(node.args[0])
        declared.backref = value if isinstance(value, str) else None
        lazy = strategy(_kw(node, "lazy"))
        declared.backref_lazy = lazy
        uselist = _const(_kw(node, "uselist"))
        declared.backref_uselist = uselist if isinstance(uselist, bool) else None
    elif isinstance(_const(node), str):
        declared.backref = str(_const(node))


def method(model: Model, func: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    """What a method of a mapped class does with ``self``'s relations."""
    args = func.args.args
    if not args or args[0].arg != "self":
        return
    facts = MethodFacts(params=[a.arg for a in args[1:]])
    defaults = func.args.defaults
    with_default = args[len(args) - len(defaults) :] if defaults else []
    optional = {a.arg for a, d in zip(with_default, defaults) if is_none(d)}
    optional |= {a.arg for a, d in zip(func.args.kwonlyargs, func.args.kw_defaults) if is_none(d)}
    for stmt in func.body:
        guard = _none_guard(stmt)
        if guard is not None and guard in optional and isinstance(stmt, ast.If):
            # ``if counts is None: counts = self.count_them()``: a caller passing
            # ``counts`` skips those loads (the fix the runtime report suggests).
            inner = facts.unless.setdefault(guard, MethodFacts())
            for sub in stmt.body:
                _gather(sub, inner)
            for sub in stmt.orelse:
                _gather(sub, facts)
            continue
        _gather(stmt, facts)
    model.methods[func.name] = facts


def is_none(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _none_guard(stmt: ast.stmt) -> str | None:
    if not isinstance(stmt, ast.If):
        return None
    test = stmt.test
    if (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Is)
        and is_none(test.comparators[0])
    ):
        return test.left.id
    return None


def _gather(stmt: ast.stmt, facts: MethodFacts) -> None:
    queried: set[str] = set()
    for node in ast.walk(stmt):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
            and isinstance(node.ctx, ast.Load)
        ):
            facts.reads.add(node.attr)
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        if isinstance(owner, ast.Name) and owner.id == "self":
            facts.calls.add(node.func.attr)
        elif (
            isinstance(owner, ast.Attribute)
            and isinstance(owner.value, ast.Name)
            and owner.value.id == "self"
        ):
            queried.add(owner.attr)
    if queried and "count(" in ast.unparse(stmt):
        facts.counted |= queried
    facts.queried |= queried


def _to_many(project: Project, model: Model, declared: Declared) -> bool:
    if declared.secondary:
        return True
    if declared.target == model.name:
        return not declared.self_remote  # adjacency list: children unless remote_side
    target = project.models.get(declared.target)
    refs = model.fk_refs
    if target is None:
        return True
    return target.table not in refs and f"class:{target.name}" not in refs


def resolve(project: Project) -> None:
    """Directions that needed the other class, reverse relations from backrefs, and
    what each method loads (through other methods of the class too)."""
    for model in list(project.models.values()):
        for declared in model.pending:
            if not declared.known and declared.name not in model.dynamic:
                many = _to_many(project, model, declared)
                model.relations[declared.name] = "many" if many else "fk"
            many = model.relations.get(declared.name) == "many"
            target = project.models.get(declared.target)
            if not declared.backref or target is None or declared.backref in target.relations:
                continue
            reverse_many = declared.secondary or not many
            if declared.backref_uselist is not None:
                reverse_many = declared.backref_uselist
            name = declared.backref
            target.relations[name] = "many" if reverse_many else "fk"
            target.targets[name] = model.name
            lazy = declared.backref_lazy or "select"
            if lazy in NOT_EAGER:
                target.dynamic[name] = lazy
                target.relations[name] = "many"
            elif lazy != "select":
                target.eager.add(name)


def _merged(facts: MethodFacts, passed: set[str]) -> MethodFacts:
    out = MethodFacts(set(facts.reads), set(facts.queried), set(facts.calls))
    for param, inner in facts.unless.items():
        if param not in passed:
            out.reads |= inner.reads
            out.queried |= inner.queried
            out.calls |= inner.calls
    return out


def passed_params(model: Model, name: str, call: ast.Call) -> set[str]:
    facts = model.methods.get(name)
    if facts is None:
        return set()
    return {k.arg for k in call.keywords if k.arg} | set(facts.params[: len(call.args)])


def method_loads(
    project: Project, model: Model, name: str, passed: set[str] | None = None
) -> list[str]:
    """The relations a call of ``model.name()`` loads from the database: lazy ones it
    reads and dynamic ones it queries, through the class's other methods too (called
    with their defaults). ``passed``: the parameters the call gives."""
    found: list[str] = []
    seen: set[str] = set()
    stack = [name]
    while stack and len(seen) < 20:
        current = stack.pop()
        raw = model.methods.get(current)
        if raw is None or current in seen:
            continue
        facts = _merged(raw, (passed or set()) if current == name else set())
        seen.add(current)
        for rel in sorted(facts.reads):
            kind = model.relations.get(rel)
            if kind is None or rel in model.eager or rel in found:
                continue
            if rel in model.dynamic and rel not in facts.queried:
                continue  # the query object itself: no SQL until it is used
            found.append(rel)
        stack.extend(sorted(facts.calls, reverse=True))
    return found

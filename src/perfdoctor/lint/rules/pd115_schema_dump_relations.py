"""PD115: a marshmallow schema dumps query rows (``many=True``) and its fields read
relationships the query does not load: one query per row and field.

Found at ``schema.dump(rows)`` with a ``many=True`` schema, and at a view decorated
``@marshal_with(schema)`` (flask-apispec) that returns the rows. Reported where the
query starts, the line the runtime report names.
"""

from __future__ import annotations

import ast

from perfdoctor.lint import marshmallow_facts, sa_facts
from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.infer import ALL, Query, query_of
from perfdoctor.lint.project import Model
from perfdoctor.lint.rules._sa_rows import SA_HINTS, dynamic_fix
from perfdoctor.orm.sa_loading import eager_option


@rule(
    "PD115",
    "schema-dump-relationships",
    "A marshmallow schema dumps query rows and reads relationships the query does not load.",
    nodes=(ast.FunctionDef, ast.Call),
    triggers=("dump(", "marshal_with("),
    also=SA_HINTS,
)
def check(node: ast.FunctionDef | ast.Call, ctx: Context) -> None:
    if isinstance(node, ast.FunctionDef):
        schema = _decorated_schema(node, ctx)
        if schema is None:
            return
        for sub in ast.walk(node):
            if isinstance(sub, ast.Return) and sub.value is not None:
                _check_dump(schema, sub.value, node, ctx)
        return
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr == "dump" and node.args):
        return
    many = any(k.arg == "many" and _true(k.value) for k in node.keywords)
    name = _schema_of(func.value, ctx)
    if name is None:
        return
    cls, instance_many = name
    if many or instance_many:
        _check_dump(cls, node.args[0], ctx.function(), ctx, at=node)


def _true(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _schema_of(node: ast.expr, ctx: Context) -> tuple[str, bool] | None:
    """``articles_schema`` (a module-level instance) or ``ArticleSchema(many=True)``."""
    if isinstance(node, ast.Name):
        return ctx.project.schema_instances.get(node.id)
    if isinstance(node, ast.Call):
        func = node.func
        cls = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if cls in ctx.project.schemas:
            return cls, any(k.arg == "many" and _true(k.value) for k in node.keywords)
    return None


def _decorated_schema(node: ast.FunctionDef, ctx: Context) -> str | None:
    for deco in node.decorator_list:
        if not (isinstance(deco, ast.Call) and deco.args):
            continue
        target = deco.func
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
        if name != "marshal_with":
            continue
        found = _schema_of(deco.args[0], ctx)
        if found is not None and found[1]:
            return found[0]
    return None


def _origin(expr: ast.expr, func: ast.FunctionDef | ast.AsyncFunctionDef | None) -> ast.AST:
    """Where the query starts: the first assignment of the name a chain starts from."""
    root = expr
    while isinstance(root, (ast.Call, ast.Attribute)):
        root = root.func if isinstance(root, ast.Call) else root.value
    if isinstance(root, ast.Name) and func is not None:
        for stmt in ast.walk(func):
            if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == root.id for t in stmt.targets
            ):
                return stmt
    return expr


_ONE = {"first", "one", "one_or_none", "get", "first_or_404", "get_or_404", "scalar"}


def _related_rows(expr: ast.expr, func: ast.AST | None, ctx: Context) -> Query | None:
    """``article.comments`` where ``article = Article.query....first()``: the rows of a
    collection relationship of one object."""
    if not (isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name)):
        return None
    origin = _origin(expr.value, func if isinstance(func, ast.FunctionDef) else None)
    if not (isinstance(origin, ast.Assign) and isinstance(origin.value, ast.Call)):
        return None
    call = origin.value
    if not (isinstance(call.func, ast.Attribute) and call.func.attr in _ONE):
        return None
    parent = query_of(call.func.value, ctx)
    model = ctx.model(parent.model) if parent is not None else None
    if model is None or model.relations.get(expr.attr) != "many":
        return None
    return Query("sqlalchemy", model.targets.get(expr.attr), legacy=expr.attr in model.dynamic)


def _query(expr: ast.expr, func: ast.AST | None, ctx: Context) -> Query | None:
    query = query_of(expr, ctx)
    if query is not None or func is None:
        return query
    related = _related_rows(expr, func, ctx)
    if related is not None:
        return related
    # Inside a decorated view the walk has not bound the body's names yet at entry:
    # follow the chain back to the first assignment of its root name.
    origin = _origin(expr, func if isinstance(func, ast.FunctionDef) else None)
    if isinstance(origin, ast.Assign):
        return query_of(origin.value, ctx)
    return None


def _check_dump(
    schema: str, expr: ast.expr, func: ast.AST | None, ctx: Context, at: ast.AST | None = None
) -> None:
    """``at``: the dump call; a view's returned rows are reported where the query starts."""
    query = _query(expr, func, ctx)
    if query is None or query.orm != "sqlalchemy" or query.select or ALL in query.eager:
        return
    model = ctx.model(query.model)
    if model is None or model.orm != "sqlalchemy":
        return
    options: list[str] = []
    notes: list[str] = []
    loads: list[str] = []
    _walk(ctx, model, schema, query.eager, "", options, notes, loads, depth=0)
    if not loads:
        return
    fixes = []
    if options:
        what = "query" if query.legacy else "select"
        fixes.append(f"add .options({', '.join(options)}) to the {what} it dumps")
    fixes += notes
    where = at or _origin(expr, func if isinstance(func, ast.FunctionDef) else None)
    if isinstance(expr, ast.Attribute) and isinstance(where, ast.Assign):
        where = expr  # one object's relation: its rows load where it is read
    ctx.report(
        "PD115",
        where,
        f"{schema} (many=True) reads {', '.join(loads)} once per row: " + "; ".join(fixes),
    )


def _walk(
    ctx: Context,
    model: Model,
    schema: str,
    eager: frozenset[str],
    prefix: str,
    options: list[str],
    notes: list[str],
    loads: list[str],
    depth: int,
) -> None:
    for dumped in marshmallow_facts.fields_of(ctx.project, schema).values():
        attr = dumped.attr
        if attr in model.relations:
            rels = [attr]
        elif attr in model.methods:
            rels = sa_facts.method_loads(ctx.project, model, attr)
        else:
            continue
        for rel in rels:
            label = f"{model.name}.{rel}"
            if label in loads:
                continue
            if rel in model.dynamic:
                loads.append(label)
                target = ctx.project.model(model.targets.get(rel))
                notes.append(dynamic_fix(model, rel, target, count=False))
                continue
            option = prefix + eager_option(model.name, rel, model.relations[rel] == "many")
            loaded = rel in model.eager or (not prefix and rel in eager)
            if not loaded:
                loads.append(label)
                if not any(o.startswith(option) for o in options):
                    options[:] = [o for o in options if not option.startswith(o)]
                    options.append(option)
            target = ctx.project.model(model.targets.get(rel))
            if dumped.nested and rel == attr and target is not None and depth < 2:
                if not prefix and rel in eager:
                    continue  # the query's own options decide what is loaded deeper
                _walk(
                    ctx, target, dumped.nested, frozenset(), option + ".",
                    options, notes, loads, depth + 1,
                )  # fmt: skip

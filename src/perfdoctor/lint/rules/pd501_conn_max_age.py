"""PD501: Django ``DATABASES`` without ``CONN_MAX_AGE`` opens a connection per request."""

from __future__ import annotations

import ast

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context


@rule(
    "PD501",
    "no-conn-max-age",
    "Django DATABASES without CONN_MAX_AGE connects to the database on every request.",
    nodes=(ast.Module,),
    triggers=("DATABASES",),
)
def check(node: ast.Module, ctx: Context) -> None:
    if "CONN_MAX_AGE" in ctx.source:
        return  # set somewhere in the module (often DATABASES["default"][...] = ...)
    for stmt in node.body:
        if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Dict)):
            continue
        if not any(isinstance(t, ast.Name) and t.id == "DATABASES" for t in stmt.targets):
            continue
        for alias in stmt.value.values:
            if not isinstance(alias, ast.Dict) or None in alias.keys:
                continue  # built elsewhere, or **merged: unknown
            engine = next(
                (v for k, v in zip(alias.keys, alias.values)
                 if isinstance(k, ast.Constant) and k.value == "ENGINE"),
                None,
            )  # fmt: skip
            if isinstance(engine, ast.Constant) and "sqlite" in str(engine.value):
                continue  # opening a SQLite file costs next to nothing
            ctx.report(
                "PD501",
                alias,
                "this database has no CONN_MAX_AGE: Django opens a new connection per request; "
                'set "CONN_MAX_AGE": 60 (and "CONN_HEALTH_CHECKS": True)',
            )

"""PD501: Django ``DATABASES`` without ``CONN_MAX_AGE`` opens a connection per request.

Settings are often split (``settings/base.py`` defines ``DATABASES``,
``production.py`` does ``from .base import *`` then sets
``DATABASES["default"]["CONN_MAX_AGE"]``), built in ``if`` blocks, or read from a URL
(``dj_database_url.config(conn_max_age=600)``). So the rule fires only when no module
of the project sets ``CONN_MAX_AGE`` anywhere, and points at the definition.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.project import conn_max_age_nodes

_FIX = 'set "CONN_MAX_AGE": 60 (and "CONN_HEALTH_CHECKS": True)'
_WHY = "so Django opens a new connection per request"
# Calls that build one database's settings from a URL, with conn_max_age 0 by default.
_URL_CALLS = {"config", "parse", "db", "db_url", "db_url_config"}


def _definitions(body: list[ast.stmt]) -> Iterator[ast.expr]:
    """Values bound to ``DATABASES`` at module level, also inside if/try/with blocks."""
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == "DATABASES" for t in stmt.targets):
                yield stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            if isinstance(stmt.target, ast.Name) and stmt.target.id == "DATABASES":
                yield stmt.value
        elif isinstance(stmt, (ast.If, ast.Try, ast.With)):
            for block in ("body", "orelse", "finalbody"):
                yield from _definitions(getattr(stmt, block, []))
            for handler in getattr(stmt, "handlers", []):
                yield from _definitions(handler.body)


def _url_call(node: ast.expr) -> str | None:
    """``dj_database_url.config()`` / ``env.db()``: the name shown, None for other calls."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    if node.func.attr not in _URL_CALLS:
        return None
    return f"{ast.unparse(node.func)}()"


def _check_alias(alias: ast.expr, ctx: Context) -> None:
    if conn_max_age_nodes(alias):
        return  # set for this database (or passed to dj_database_url)
    if isinstance(alias, ast.Dict):
        if None in alias.keys:
            return  # **merged: unknown
        engine = next(
            (v for k, v in zip(alias.keys, alias.values)
             if isinstance(k, ast.Constant) and k.value == "ENGINE"),
            None,
        )  # fmt: skip
        if isinstance(engine, ast.Constant) and "sqlite" in str(engine.value):
            return  # opening a SQLite file costs next to nothing
        ctx.report("PD501", alias, f"this database has no CONN_MAX_AGE, {_WHY}: {_FIX}")
        return
    call = _url_call(alias)
    if call is None:
        return  # built elsewhere: unknown
    ctx.report(
        "PD501",
        alias,
        f"{call} gives this database CONN_MAX_AGE 0 unless its URL says otherwise, {_WHY}: "
        f"pass conn_max_age=60 (dj-database-url) or set "
        f'DATABASES["default"]["CONN_MAX_AGE"] = 60 after it',
    )


@rule(
    "PD501",
    "no-conn-max-age",
    "Django DATABASES without CONN_MAX_AGE connects to the database on every request.",
    nodes=(ast.Module,),
    triggers=("DATABASES",),
)
def check(node: ast.Module, ctx: Context) -> None:
    if ctx.project.root(ctx.path) in ctx.project.conn_max_age:
        return  # some settings module of the project sets it
    for value in _definitions(node.body):
        if isinstance(value, ast.Dict):
            for alias in value.values:
                _check_alias(alias, ctx)

"""PD401: independent awaited I/O calls in a row that could run concurrently."""

from __future__ import annotations

import ast

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.rules._util import walk_local

# Reads only: a write followed by a read (POST then GET, INSERT then SELECT) may
# depend on the write having happened even when no value passes between them.
_READS = {"get", "head", "options"}
_CLIENT_METHODS = {
    "httpx.AsyncClient": _READS,
    "aiohttp.ClientSession": _READS,
    # A pool hands each call its own connection; one asyncpg connection runs
    # one query at a time, so awaits on a connection are not gatherable.
    "asyncpg.Pool": {"fetch", "fetchrow", "fetchval"},
}

# try/except* (ast.TryStar) exists from Python 3.11.
_TRY = tuple(getattr(ast, name) for name in ("Try", "TryStar") if hasattr(ast, name))


def _io_await(stmt: ast.stmt, ctx: Context) -> tuple[ast.Call, set[str]] | None:
    targets: set[str] = set()
    if isinstance(stmt, ast.Expr):
        value = stmt.value
    elif isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets):
        value = stmt.value
        targets = {t.id for t in stmt.targets if isinstance(t, ast.Name)}
    elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
        value = stmt.value
        targets = {stmt.target.id}
    else:
        return None
    if not (isinstance(value, ast.Await) and isinstance(value.value, ast.Call)):
        return None
    call = value.value
    func = call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
        return None
    kind = ctx.lookup(func.value.id)
    if not isinstance(kind, str) or func.attr not in _CLIENT_METHODS.get(kind, ()):
        return None
    return call, targets


def _reads(call: ast.Call) -> set[str]:
    return {n.id for n in ast.walk(call) if isinstance(n, ast.Name)}


def _runs(body: list[ast.stmt], ctx: Context) -> list[list[ast.stmt]]:
    runs: list[list[ast.stmt]] = []
    run: list[ast.stmt] = []
    bound: set[str] = set()
    for stmt in body:
        found = _io_await(stmt, ctx)
        if found is None:
            runs.append(run)
            run, bound = [], set()
            continue
        call, targets = found
        if _reads(call) & bound:
            runs.append(run)  # this call needs the previous answer: it has to wait
            run, bound = [], set()
        run.append(stmt)
        bound |= targets
    runs.append(run)
    return [r for r in runs if len(r) >= 2]


@rule(
    "PD401",
    "sequential-awaits",
    "Independent awaited I/O calls in a row: they could run concurrently.",
    nodes=(ast.AsyncFunctionDef,),
    triggers=("await",),
    also=("httpx", "aiohttp", "asyncpg"),
    when="exit",
)
def check(node: ast.AsyncFunctionDef, ctx: Context) -> None:
    blocks = [node.body]
    for sub in walk_local(node.body):
        for attr in ("body", "orelse", "finalbody"):
            block = getattr(sub, attr, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                blocks.append(block)
        if isinstance(sub, _TRY):
            blocks.extend(h.body for h in sub.handlers)
    for block in blocks:
        for run in _runs(block, ctx):
            lines = ", ".join(str(s.lineno) for s in run)
            ctx.report(
                "PD401",
                run[0],
                f"{len(run)} independent awaits in a row (lines {lines}) each wait for the "
                "previous one: run them together with asyncio.gather(...)",
            )

"""PD303: a view caches data built from ``request.user`` under a key without the user."""

from __future__ import annotations

import ast

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.rules._util import walk_local
from perfdoctor.lint.rules.pd301_cache_no_timeout import is_django_cache

_WRITES = {"set": 1, "add": 1, "get_or_set": 1}
# Reads of request.user that only gate access: the cached data is the same for all.
_AUTH = {"is_authenticated", "is_anonymous", "is_staff", "is_superuser", "is_active",
         "has_perm", "has_perms", "has_module_perms"}  # fmt: skip
_USERISH = ("user", "owner", "account", "tenant", "session", "uid", "pk", "id")


def _user_refs(node: ast.AST, users: set[str]) -> bool:
    """Does ``node`` read the user (beyond permission checks)?"""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and sub.attr in _AUTH:
            continue
        if isinstance(sub, ast.Name) and sub.id in users:
            return True
        if (
            isinstance(sub, ast.Attribute)
            and sub.attr == "user"
            and isinstance(sub.value, ast.Name)
            and sub.value.id == "request"
        ):
            return True
    return False


def _strip_auth(node: ast.AST) -> ast.AST:
    """``node`` with permission checks replaced, so they do not count as reads."""

    class _Strip(ast.NodeTransformer):
        def visit_Attribute(self, n: ast.Attribute) -> ast.AST:
            return ast.Constant(None) if n.attr in _AUTH else self.generic_visit(n)

    return _Strip().visit(ast.parse(ast.unparse(node), mode="eval").body)  # type: ignore[no-any-return]


def _key_has_user_part(key: ast.expr) -> bool:
    for sub in ast.walk(key):
        if isinstance(sub, ast.Call):
            return True  # a helper builds the key: it may well include the user
        if isinstance(sub, ast.Name) and (
            sub.id == "request" or any(u in sub.id.lower() for u in _USERISH)
        ):
            return True
        if isinstance(sub, ast.Attribute) and any(u in sub.attr.lower() for u in _USERISH):
            return True
    return False


@rule(
    "PD303",
    "cache-key-without-user",
    "A view caches data built from request.user under a key without the user in it.",
    nodes=(ast.FunctionDef, ast.AsyncFunctionDef),
    triggers=("request.user",),
    also=("django.core.cache",),
    when="exit",
)
def check(node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: Context) -> None:
    if not ctx.is_view():
        return
    assigns: dict[str, list[ast.Assign]] = {}
    writes: list[ast.Call] = []
    for sub in walk_local(node.body):
        if (
            isinstance(sub, ast.Assign)
            and len(sub.targets) == 1
            and isinstance(sub.targets[0], ast.Name)
        ):
            assigns.setdefault(sub.targets[0].id, []).append(sub)
        elif (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and (
                sub.func.attr in _WRITES
                and is_django_cache(sub.func.value, ctx)
                and len(sub.args) >= 2
            )
        ):
            writes.append(sub)
    if not writes:
        return
    # Names holding the user, or data computed from it, in source order.
    users: set[str] = set()
    for name, found in sorted(assigns.items(), key=lambda kv: kv[1][0].lineno):
        if any(_user_refs(_strip_auth(a.value), users) for a in found):
            users.add(name)
    for call in writes:
        key, value = call.args[0], call.args[1]
        if isinstance(key, ast.Name):
            bound = [a for a in assigns.get(key.id, []) if a.lineno < call.lineno]
            if not bound:
                continue  # a parameter or a global: what it holds is unknown
            key = bound[-1].value
        if _key_has_user_part(key):
            continue
        if _user_refs(_strip_auth(value), users):
            ctx.report(
                "PD303",
                call,
                "the cached value depends on request.user but the key does not: another "
                "user would be served it; put request.user.pk in the key",
            )

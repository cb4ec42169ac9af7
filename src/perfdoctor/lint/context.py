"""Per-file state the walk keeps for the rules: imports, scopes, bound names."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from perfdoctor.lint.base import LintFinding
from perfdoctor.lint.infer import query_of
from perfdoctor.lint.project import Model, Project

# Constructors whose result the rules recognise later by the name it is bound to.
CLIENTS = {
    "requests.Session": "requests.Session",
    "requests.session": "requests.Session",
    "requests.sessions.Session": "requests.Session",
    "httpx.Client": "httpx.Client",
    "httpx.AsyncClient": "httpx.AsyncClient",
    "aiohttp.ClientSession": "aiohttp.ClientSession",
    "redis.Redis": "redis",
    "redis.StrictRedis": "redis",
    "redis.from_url": "redis",
    "redis.Redis.from_url": "redis",
    "redis.client.Redis": "redis",
    "redis.asyncio.Redis": "redis",
    "redis.asyncio.from_url": "redis",
    "redis.asyncio.Redis.from_url": "redis",
    "django_redis.get_redis_connection": "redis",
    "asyncpg.create_pool": "asyncpg.Pool",
    "urllib.request.build_opener": "urllib.opener",
    "urllib.request.OpenerDirector": "urllib.opener",
}
_VIEW_DECORATORS = {"route", "get", "post", "put", "patch", "delete", "api_view", "websocket"}
_VIEW_BASES = ("View", "ViewSet", "APIView")


@dataclass
class Scope:
    node: ast.AST | None
    is_async: bool
    names: dict[str, object] = field(default_factory=dict)
    cls: ast.ClassDef | None = None


class Context:
    def __init__(self, path: str, source: str, project: Project) -> None:
        self.path = path
        self.source = source
        self.project = project
        self.imports: dict[str, str] = {}
        # Names imported relatively (from .models import Article) -> the module's path.
        self.relative: dict[str, str] = {}
        self.module = Scope(None, False)
        self.scopes: list[Scope] = [self.module]
        self.classes: list[ast.ClassDef] = []
        self.findings: list[LintFinding] = []
        # What a rule keeps about the file between the nodes it is called with.
        self.state: dict[str, Any] = {}
        self._reported: set[tuple[str, int, int]] = set()

    # --- reporting
    def report(
        self,
        code: str,
        node: ast.AST,
        message: str,
        function: str | None = None,
        relation: str | None = None,
    ) -> None:
        """``message`` is "what is wrong: the fix". ``function``: the enclosing
        function when the report is made after the walk has left it. ``relation``:
        "Article.tags", the model relation the finding is about."""
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0) + 1
        if (code, line, col) in self._reported:
            return
        self._reported.add((code, line, col))
        where = function or self.qualified_function()
        self.findings.append(
            LintFinding(code, message, self.path, line, col, function=where, relation=relation)
        )

    def qualified_function(self) -> str | None:
        """The enclosing function as Python's ``co_qualname`` names it (what the
        runtime report shows): ``View.get``, ``outer.<locals>.inner``; None at module level."""
        name: str | None = None
        for scope in self.scopes[1:]:
            node = scope.node
            own = (
                node.name
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                else "<lambda>"
            )
            if scope.cls is not None:
                own = f"{scope.cls.name}.{own}"
            name = own if name is None else f"{name}.<locals>.{own}"
        return name

    # --- names
    @property
    def scope(self) -> Scope:
        return self.scopes[-1]

    def lookup(self, name: str) -> object | None:
        scope = self.scopes[-1]
        if name in scope.names:
            return scope.names[name]
        return self.module.names.get(name)

    def bind(self, target: ast.expr, value: object | None) -> None:
        if isinstance(target, ast.Name):
            self.scope.names[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind(element, None)

    def qualname(self, node: ast.expr) -> str | None:
        """``rq.get`` -> "requests.get" when ``import requests as rq``; None when unknown."""
        if isinstance(node, ast.Name):
            if node.id in self.scope.names and self.scope is not self.module:
                return None  # a parameter or local of the same name hides the import
            return self.imports.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualname(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def value_of(self, node: ast.expr) -> object | None:
        """What a name bound to ``node`` holds, as far as the rules care."""
        if isinstance(node, ast.Await):
            node = node.value
        if isinstance(node, ast.Call):
            name = self.qualname(node.func)
            if name in CLIENTS:
                return CLIENTS[name]
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "user"
            and isinstance(node.value, ast.Name)
            and node.value.id == "request"
        ):
            return "user"
        return query_of(node, self)

    def model(self, name: str | None) -> Model | None:
        # Unless imported, a name is looked for among the models of this file first.
        return self.project.model(name, self.relative.get(name or "", self.path))

    def import_relative(self, level: int, module: str | None, names: list[str]) -> None:
        parents = PurePosixPath(self.path).parents
        if level > len(parents):
            return
        base = parents[level - 1]
        target = base.joinpath(*module.split(".")) if module else base
        for name in names:
            self.relative[name] = f"{target}.py"

    # --- where we are
    def function(self) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        node = self.scope.node
        return node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None

    def in_async(self) -> bool:
        return self.scope.is_async

    def is_view(self) -> bool:
        """A Django/DRF view function or method, a Flask/FastAPI route, a serializer method."""
        func = self.function()
        if func is None:
            return False
        cls = self.scope.cls
        if cls is not None:
            bases = [
                b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in cls.bases
            ]
            if any(b.endswith("Serializer") for b in bases):
                return func.name.startswith("get_") or func.name == "to_representation"
            if any(b.endswith(_VIEW_BASES) for b in bases):
                # get_queryset feeds pagination and filtering: returning .all() is the idiom.
                return func.name in {"get", "post", "put", "patch", "delete", "list", "retrieve",
                                     "get_context_data", "dispatch"}  # fmt: skip
            return False
        args = func.args.posonlyargs + func.args.args
        if args and args[0].arg == "request":
            return True
        for deco in func.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            if isinstance(target, ast.Attribute) and target.attr in _VIEW_DECORATORS:
                return True
            if isinstance(target, ast.Name) and target.id == "api_view":
                return True
        return False

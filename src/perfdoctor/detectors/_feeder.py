"""Where the user's code feeds a loop that runs in a library.

When a DRF serializer, a marshmallow schema or a template iterates the rows, no
line of the user's code repeats the query.  The line to change is the one that
built what the library iterates: the view's ``queryset =`` or ``get_queryset``
(DRF), the ``select()`` handed to ``dump(...)`` (marshmallow), the call that
rendered the template.  What triggered each load (the serializer field, the
template line) is recorded on the span by :mod:`perfdoctor.triggers` and told in
the evidence as ``loaded_by``.
"""

from __future__ import annotations

import ast
import os
from functools import lru_cache
from typing import Any

from perfdoctor import callsite, triggers
from perfdoctor.detectors._loops import _tree
from perfdoctor.model import Location, Span, Trace
from perfdoctor.triggers import DJANGO_TEMPLATE, DRF, GRAPHQL, JINJA2, MARSHMALLOW


def loop_frames(span: Span) -> list[Location]:
    """The user frames that can hold the loop repeating ``span``: those inside its
    trigger (a serializer method's body), not the ones that called the library
    (a view, a test looping over requests)."""
    trigger = span.attrs.get("trigger")
    if isinstance(trigger, dict) and isinstance(trigger.get("inside"), int):
        return span.stack[: trigger["inside"]]
    return span.stack


def feeding_site(
    trace: Trace, span: Span, loop: Location | None
) -> tuple[Location | None, dict[str, Any]]:
    """The location of an N+1 finding and the evidence that says what triggered it."""
    trigger = span.attrs.get("trigger")
    trigger = trigger if isinstance(trigger, dict) else None
    evidence: dict[str, Any] = {}
    if trigger is not None:
        evidence["trigger"] = {k: v for k, v in trigger.items() if k != "inside"}
        text = loaded_by(trigger)
        if text:
            evidence["loaded_by"] = text
    if loop is not None:
        return span.location, evidence  # the user's own loop: its line is the place
    kind = trigger.get("kind") if trigger else None
    handler = trace.attrs.get("handler")
    handler = handler if isinstance(handler, dict) else None
    if kind is None:
        if span.location is not None:
            return span.location, evidence
        view = handler_site(handler) if _users(handler) else None
        return view_queryset(handler) or view, evidence
    if kind == DRF:
        found = view_queryset(handler)
        if found is not None:
            return found, evidence
    if kind == GRAPHQL and trigger is not None:
        found = resolver_site(span, trigger)
        if found is not None:
            return found, evidence
    # The user frames outside the library's loop: the view that handed it the rows,
    # and, under a test client or a script, the code that made the request.
    outside = span.stack[trigger.get("inside", 0) :] if trigger else span.stack
    calls = _FEEDING_CALLS.get(kind)
    found = fed_input(outside, calls) if calls else None
    if found is None and handler:
        # A class-based view rendered it (a ListView's TemplateResponse): its queryset.
        found = view_queryset(handler)
    if found is None and span.location is not None and _in_handler(span.location, handler):
        found = span.location
    # A library's view (Wagtail's serve() answers every page) is no place for the
    # fix: the template line that loads each row is the user's.
    view = handler_site(handler) if _users(handler) else None
    return found or view or template_site(trigger) or span.location, evidence


def _users(handler: dict[str, Any] | None) -> bool:
    path = handler.get("path") if handler else None
    return isinstance(path, str) and callsite.classify(path) == callsite.USER


def template_site(trigger: object, own: bool = False) -> Location | None:
    """The template line that made a query, when a template made it; with ``own``,
    only when the line made it itself (see :func:`triggers.template_line`)."""
    found = triggers.template_line(trigger, own)
    return None if found is None else Location(found[0], found[1], "template")


def _in_handler(location: Location, handler: dict[str, Any] | None) -> bool:
    """True when ``location`` is in the view that answered (not a test calling it)."""
    if not handler:
        return True  # a script or a job: the user's frame is all there is
    path = handler.get("path")
    return (
        isinstance(path, str)
        and os.path.abspath(location.path) == os.path.abspath(path)
        and location.function == handler.get("function")
    )


def handler_site(handler: dict[str, Any] | None) -> Location | None:
    """The view's line that builds its query (else its last return), not its first
    line: a decorator such as flask-apispec's @marshal_with runs the schema, and
    the decorator line is no place to add .options(...)."""
    if not handler or not handler.get("path") or not handler.get("line"):
        return None
    path, line = str(handler["path"]), int(handler["line"])
    function = str(handler.get("function", ""))
    node = _decorated_function_at(path, line)
    if node is not None:
        line = _query_line(node) or line
    return Location(path, line, function)


def _decorated_function_at(path: str, line: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    tree = _tree(path)
    best: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([d.lineno for d in node.decorator_list] + [node.lineno])
            if first <= line <= (node.end_lineno or node.lineno) and (
                best is None or node.lineno > best.lineno
            ):
                best = node
    return best


def _query_line(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int | None:
    """Where the rows the view returns come from: the query its return value chains
    on (``res = Article.query`` ... ``return res.limit(n).all()``), else the return
    itself (``return article.comments``: a relation of one object, loaded there)."""
    returns = [n for n in ast.walk(function) if isinstance(n, ast.Return) and n.value is not None]
    if not returns:
        return None
    last = max(returns, key=lambda n: n.lineno)
    value = last.value
    if isinstance(value, ast.Call):
        base: ast.AST = value
        while isinstance(base, (ast.Call, ast.Attribute)):
            base = base.func if isinstance(base, ast.Call) else base.value
        if isinstance(base, ast.Name):
            origins = [
                n.lineno
                for n in ast.walk(function)
                if isinstance(n, ast.Assign)
                and n.lineno < last.lineno
                and any(isinstance(t, ast.Name) and t.id == base.id for t in n.targets)
                and _builds_query(n.value)
            ]
            if origins:
                return min(origins)
    return last.lineno


def resolver_site(span: Span, trigger: dict[str, Any]) -> Location | None:
    """Where a GraphQL N+1 is fixed: the user's resolver of the field, at the line
    that ran the query (where a DataLoader's ``load`` goes); for a field the library
    resolves by itself (an attribute read), the resolver that returned the list,
    at the line building its query (where the eager load goes)."""
    inside = trigger.get("inside")
    resolver = trigger.get("resolver")
    if isinstance(inside, int) and 0 < inside <= len(span.stack):
        # The outermost user frame inside the executor's call: the resolver itself,
        # not a helper it calls.
        return span.stack[inside - 1]
    if isinstance(resolver, dict) and resolver.get("path") and resolver.get("line"):
        return handler_site(resolver)
    return root_resolver_site(trigger)


def root_resolver_site(trigger: Any) -> Location | None:
    """The line of the resolver that returned the list a GraphQL field is resolved
    for (``Query.posts``) that builds its query: where an eager load goes."""
    feeder = trigger.get("feeder") if isinstance(trigger, dict) else None
    if isinstance(feeder, dict) and feeder.get("path") and feeder.get("line"):
        return handler_site(feeder)
    return None


def loaded_by(trigger: dict[str, Any]) -> str | None:
    """``PostSerializer.author (serializers.py:12)``, ``template blog/list.html line 8``,
    ``GraphQL field Post.author (schema.py:30)``."""
    kind = trigger.get("kind")
    if kind == GRAPHQL:
        return graphql_field(trigger)
    if kind in (DJANGO_TEMPLATE, JINJA2):
        name = trigger.get("template") or trigger.get("path") or "?"
        text = f"template {name} line {trigger.get('line', '?')}"
        expression = trigger.get("expression")
        return f"{text} ({{{{ {expression} }}}})" if expression else text
    cls = trigger.get("class")
    if not cls:
        return None
    field = trigger.get("field")
    text = f"{cls}.{field}" if field else cls
    details = []
    if trigger.get("source"):
        details.append(f'source="{trigger["source"]}"')
    path = trigger.get("path")
    if path:
        line = class_member_line(str(path), str(cls), str(field) if field else None)
        details.append(f"{os.path.basename(path)}:{line}" if line else os.path.basename(path))
    return f"{text} ({', '.join(details)})" if details else text


def graphql_field(trigger: dict[str, Any]) -> str:
    """``GraphQL field Post.author (schema.py:30)``, or ``(default resolver)``."""
    text = f"GraphQL field {trigger.get('type', '?')}.{trigger.get('field', '?')}"
    resolver = trigger.get("resolver")
    if isinstance(resolver, dict) and resolver.get("path"):
        return f"{text} ({os.path.basename(str(resolver['path']))}:{resolver.get('line')})"
    return f"{text} (default resolver)"


def class_member_line(path: str, qualname: str, member: str | None) -> int | None:
    """The line of ``member`` (an assignment or a def) in class ``qualname`` of ``path``,
    or of the class itself."""
    cls = _class_node(path, qualname)
    if cls is None:
        return None
    if member:
        node = _member(cls, member)
        if node is not None:
            return node.lineno
    return cls.lineno


def serializer_method(trigger: Any, stack: list[Location]) -> Location | None:
    """The ``get_<field>`` method of the DRF serializer whose SerializerMethodField
    ran the query, when it is in the user's source: the line of it on the query's
    stack, else its ``def``."""
    if not isinstance(trigger, dict) or trigger.get("kind") != DRF:
        return None
    cls, field, path = trigger.get("class"), trigger.get("field"), trigger.get("path")
    if not (isinstance(cls, str) and isinstance(field, str) and isinstance(path, str)):
        return None
    for frame in stack:
        if frame.function == f"{cls}.get_{field}":
            return frame
    node = _class_node(path, cls)
    member = _member(node, f"get_{field}") if node is not None else None
    if not isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    return Location(path, member.lineno, f"{cls}.get_{field}")


def view_queryset(handler: dict[str, Any] | None) -> Location | None:
    """The view class's ``get_queryset`` (if it defines one) or its ``queryset =``,
    looked for in the class and then in its bases written in the same file."""
    if not handler:
        return None
    path = handler.get("class_path")
    qualname = handler.get("class")
    if not path or not qualname:
        return None
    seen: set[str] = set()
    pending = [str(qualname)]
    while pending:
        name = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        cls = _class_node(str(path), name)
        if cls is None:
            continue
        for member in ("get_queryset", "queryset"):
            node = _member(cls, member)
            if node is not None:
                return Location(str(path), node.lineno, f"{cls.name}.{member}")
        pending.extend(base.id for base in cls.bases if isinstance(base, ast.Name))
    return None


# The calls that hand rows to a library loop, by trigger kind.
_FEEDING_CALLS: dict[str, frozenset[str]] = {
    MARSHMALLOW: frozenset({"dump", "dumps"}),
    DJANGO_TEMPLATE: frozenset(
        {"render", "render_to_string", "render_to_response", "TemplateResponse"}
    ),
    JINJA2: frozenset({"render_template", "render", "stream_template", "TemplateResponse"}),
}


def fed_input(stack: list[Location], calls: frozenset[str]) -> Location | None:
    """The query whose rows were handed to the library (``schema.dump(rows)``,
    ``render(request, "list.html", {"posts": posts})``) when the same function built
    it; else that call itself.  None when no user frame makes such a call."""
    for frame in stack:
        function = _function_at(frame.path, frame.line)
        if function is None:
            continue
        call = _call_at(function, frame.line, calls)
        if call is None:
            continue
        built = _origin(function, call, frame.line)
        return Location(frame.path, built or frame.line, frame.function)
    return None


def _call_at(function: ast.AST, line: int, calls: frozenset[str]) -> ast.Call | None:
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and node.lineno <= line <= (node.end_lineno or node.lineno):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in calls:
                return node
    return None


def _origin(function: ast.AST, call: ast.Call, line: int) -> int | None:
    """The line that built what ``call`` was given: follows names back through
    assignments before ``line`` (``rows = session.scalars(stmt)`` → ``stmt = select(...)``),
    stopping at the first that builds a query (``select``, ``query``, ``.objects``)."""
    given = [*call.args, *(k.value for k in call.keywords)]
    names = [n.id for arg in given for n in ast.walk(arg) if isinstance(n, ast.Name)]
    best: int | None = None
    for _ in range(4):
        assigned = _last_assignment(function, names, line)
        if assigned is None:
            break
        best = assigned.lineno
        if _builds_query(assigned.value):
            return best
        names = [n.id for n in ast.walk(assigned.value) if isinstance(n, ast.Name)]
        line = assigned.lineno
    return best


def _builds_query(value: ast.AST | None) -> bool:
    for node in ast.walk(value) if value is not None else ():
        if isinstance(node, ast.Attribute) and node.attr in ("objects", "query"):
            return True  # a Django queryset (Post.objects), Flask-SQLAlchemy's Post.query
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("select", "query"):
                return True
    return False


def _last_assignment(function: ast.AST, names: list[str], line: int) -> ast.Assign | None:
    found: ast.Assign | None = None
    for node in ast.walk(function):
        if not isinstance(node, ast.Assign) or node.lineno >= line:
            continue
        targets = {t.id for t in node.targets if isinstance(t, ast.Name)}
        if targets & set(names) and (found is None or node.lineno > found.lineno):
            found = node
    return found


def _function_at(path: str, line: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    tree = _tree(path)
    if tree is None:
        return None
    best: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    for node in ast.walk(tree):
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.lineno <= line <= (node.end_lineno or node.lineno)
            and (best is None or node.lineno > best.lineno)
        ):
            best = node
    return best


@lru_cache(maxsize=512)
def _class_node(path: str, qualname: str) -> ast.ClassDef | None:
    tree = _tree(path)
    if tree is None:
        return None
    scope: list[ast.stmt] = tree.body
    found: ast.ClassDef | None = None
    for part in qualname.split("."):
        found = next(
            (n for n in scope if isinstance(n, ast.ClassDef) and n.name == part), None
        )
        if found is None:
            return None
        scope = found.body
    return found


def _member(cls: ast.ClassDef, name: str) -> ast.stmt | None:
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return node
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
        ):
            return node
    return None

"""What in a library ran the loop a query came from: a serializer field, a template line.

When a DRF serializer, a marshmallow schema, a template or a GraphQL executor
iterates the rows, the loop that repeats a query is library code and no line of
the user's code sits in it.  What the user recognises instead is *what*
triggered the load: the serializer class and field, the template and its line,
the GraphQL field (:mod:`perfdoctor.graphql_fields`).  :func:`recognise` picks
out the few library functions that tell it, once per code object, so the walk
in :func:`perfdoctor.callsite.capture` pays one string comparison per frame in
the normal case; :func:`extract` reads names (never values) from the frame's
locals only on those frames; :func:`describe` turns that into the span's
``trigger`` attribute in the recorder's thread.
"""

from __future__ import annotations

import os
import sys
from types import CodeType, FrameType
from typing import Any

from perfdoctor import graphql_fields

DRF = "drf-serializer"
MARSHMALLOW = "marshmallow-schema"
DJANGO_TEMPLATE = "django-template"
JINJA2 = "jinja2-template"
GRAPHQL = graphql_fields.KIND

# Files that hold a trigger function (by the end of their path) and, per file,
# the functions (co_qualname) that name what is being serialized or rendered.
_FUNCTIONS: dict[str, dict[str, str]] = {
    os.path.join("rest_framework", "fields.py"): {
        "Field.get_attribute": DRF,
        "SerializerMethodField.to_representation": DRF,
    },
    os.path.join("rest_framework", "relations.py"): {
        "RelatedField.get_attribute": DRF,
        "ManyRelatedField.get_attribute": DRF,
    },
    os.path.join("rest_framework", "serializers.py"): {
        "Serializer.to_representation": DRF,
        "ListSerializer.to_representation": DRF,
    },
    os.path.join("marshmallow", "fields.py"): {"Field.serialize": MARSHMALLOW},
    os.path.join("marshmallow", "schema.py"): {
        "Schema._serialize": MARSHMALLOW,
        "Schema.dump": MARSHMALLOW,
    },
    os.path.join("django", "template", "base.py"): {"Node.render_annotated": DJANGO_TEMPLATE},
    # graphql-core's executor, which Strawberry, Graphene and Ariadne all run on: the
    # frame that calls a field's resolver (3.2) and the one awaiting an async one.
    os.path.join("graphql", "execution", "execute.py"): {
        "ExecutionContext.execute_field": GRAPHQL,
        "ExecutionContext.execute_field.<locals>.await_result": GRAPHQL,
    },
    os.path.join("graphql", "execution", "executor.py"): {  # graphql-core 3.3
        "Executor.execute_field": GRAPHQL,
        "Executor.complete_awaitable_value": GRAPHQL,
    },
}
SUFFIXES = tuple(os.sep + suffix for suffix in _FUNCTIONS)
# Before Python 3.11 a code object has no co_qualname and a nested function has no
# class to find it by (:func:`_qualname`): its co_name is matched instead (a
# same-named function elsewhere in these files extracts nothing).
_NESTED: dict[str, dict[str, str]] = {
    suffix: {
        qualname.rsplit(".", 1)[-1]: kind
        for qualname, kind in functions.items()
        if "<locals>" in qualname
    }
    for suffix, functions in _FUNCTIONS.items()
}

# id of a code object -> the code object and the trigger kind it is, or None; filled
# once per code object.  Keyed by id: hashing a code object hashes its bytecode, and
# a GraphQL request walks a dozen executor frames per query.  The code object is
# kept, so its id is not reused while the entry lives.
_codes: dict[int, tuple[CodeType, str | None]] = {}
_MAX_CODES = 50_000


def _qualname(frame: FrameType, code: CodeType) -> str:
    qualname: str | None = getattr(code, "co_qualname", None)
    if qualname is not None:
        return qualname
    # Before Python 3.11 a code object knows only its bare name: the class is the
    # one in the instance's MRO whose attribute of that name runs this code.
    owner = frame.f_locals.get("self")
    for cls in type(owner).__mro__ if owner is not None else ():
        function = cls.__dict__.get(code.co_name)
        if getattr(function, "__code__", None) is code:
            return f"{cls.__name__}.{code.co_name}"
    return code.co_name


def is_trigger_file(path: str) -> bool:
    """A file that may hold a trigger: a known library module, or a template (not .py)."""
    return path.endswith(SUFFIXES) or not path.endswith((".py", ".pyw"))


def recognise(frame: FrameType, code: CodeType) -> str | None:
    """The trigger kind of ``code`` (a frame of a trigger file), or None."""
    known = _codes.get(id(code))
    if known is not None and known[0] is code:
        return known[1]
    kind: str | None = None
    filename = code.co_filename
    for suffix, functions in _FUNCTIONS.items():
        if filename.endswith(os.sep + suffix):
            kind = functions.get(_qualname(frame, code))
            if kind is None and not hasattr(code, "co_qualname"):
                kind = _NESTED[suffix].get(code.co_name)
            break
    else:
        # Jinja2 compiles a template to a module whose file name is the template's
        # and whose globals hold the template object.
        if "__jinja_template__" in frame.f_globals:
            kind = JINJA2
    if len(_codes) >= _MAX_CODES:
        _codes.clear()
    _codes[id(code)] = (code, kind)
    return kind


# A trigger as the hot path keeps it: its kind and names or long-lived objects
# (a class, a template), resolved to text by :func:`describe` off the request path.
RawTrigger = tuple[Any, ...]


def template_line(trigger: object, own: bool = False) -> tuple[str, int] | None:
    """(file, line) of the template line that made a query, from a span's stored
    ``trigger``; with ``own``, only when the line made it itself, with none of the
    app's code between (``{{ post.author.name }}``, not an app's template tag
    that runs queries)."""
    if not isinstance(trigger, dict) or trigger.get("kind") not in (DJANGO_TEMPLATE, JINJA2):
        return None
    if own and trigger.get("inside"):
        return None
    path, line = trigger.get("path"), trigger.get("line")
    if not isinstance(path, str) or not isinstance(line, int) or path.startswith("<"):
        return None
    return path, line


# A trace's DRF names by the field or serializer they were read from (see
# :func:`extract`): id -> (the object, ``inside``, the names).
Names = dict[int, tuple[Any, int, RawTrigger]]
# Past this many objects in one trace (a nested serializer made per row) it starts again.
_MAX_NAMES = 1024


def extract(
    kind: str, frame: FrameType, inside: int, names: Names | None = None
) -> RawTrigger | None:
    """Names of what ``frame`` is serializing or rendering; never a value.  Never raises.

    ``inside`` is how many user frames lie between the operation and ``frame``
    (a ``SerializerMethodField``'s method): only those can hold the loop.

    ``names``: the trace's own cache of DRF names (:attr:`perfdoctor.callsite.Anchor`,
    emptied when the trace ends).  A DRF field is bound once to its serializer, so
    its names do not change while it lives: a list's row queries, each from the same
    field object, read them once per trace.  Keyed by the object's id and holding
    the object, so an id is never reused while its entry lives.
    """
    if kind in (DRF, DJANGO_TEMPLATE):
        # The usual ones (a serializer field per row, a template node per row): one
        # call fewer, and a node's names read once per trace (nodes are parsed once
        # and never change; a page reads the same dozen for each of its rows).
        try:
            this = frame.f_locals.get("self")
            if this is None:
                return None
            if names is not None:
                found = names.get(id(this))
                if found is not None and found[0] is this and found[1] == inside:
                    return found[2]
            raw = (*(_drf(this) if kind == DRF else _template(this)), inside)
            if names is not None:
                if len(names) >= _MAX_NAMES:
                    names.clear()
                names[id(this)] = (this, inside, raw)
            return raw
        except Exception:
            return None
    found = _extract(kind, frame)
    return None if found is None else (*found, inside)


def _extract(kind: str, frame: FrameType) -> RawTrigger | None:
    """The kinds other than DRF's and Django templates' (:func:`extract` reads those)."""
    try:
        if kind == JINJA2:
            template = frame.f_globals.get("__jinja_template__")
            return (kind, template, frame.f_code, frame.f_lasti)
        if kind == GRAPHQL:
            return graphql_fields.extract(frame)
        this = frame.f_locals.get("self")
        if this is None:
            return None
        if kind == MARSHMALLOW:
            if hasattr(this, "dump_fields"):  # the schema itself
                return (kind, type(this), None, None)
            parent = getattr(this, "parent", None)
            field = getattr(this, "name", None)
            return (kind, type(parent) if parent is not None else None, field, None)
    except Exception:
        return None
    return None


def _template(this: Any) -> RawTrigger:
    origin = getattr(this, "origin", None)
    token = getattr(this, "token", None)
    expression = getattr(getattr(this, "filter_expression", None), "token", None)
    return (
        DJANGO_TEMPLATE,
        getattr(origin, "template_name", None),
        getattr(origin, "name", None),
        getattr(token, "lineno", None),
        expression if isinstance(expression, str) else None,
    )


def _drf(this: Any) -> RawTrigger:
    parent = getattr(this, "parent", None)
    if parent is not None and getattr(parent, "child", None) is this:
        # The child of a ListSerializer (many=True): the serializer itself, no field.
        parent = None
    if parent is None:
        owner = getattr(this, "child", None)
        return (DRF, type(this if owner is None else owner), None, None)
    field = getattr(this, "field_name", None) or None
    source = getattr(this, "source", None)
    if source == field or source == "*":
        source = None
    return (DRF, type(parent), field, source if isinstance(source, str) else None)


_described: dict[RawTrigger, dict[str, Any] | None] = {}


def describe(raw: RawTrigger) -> dict[str, Any] | None:
    """The span's ``trigger`` attribute: kind, class, field, template, path and line.

    Runs in the recorder's thread; the same trigger comes back once per row, so
    each is described once.
    """
    try:
        found = _described.get(raw)
    except TypeError:  # an unhashable template object
        return _describe(raw)
    if found is None:
        if len(_described) >= _MAX_CODES:
            _described.clear()
        found = _described[raw] = _describe(raw)
    return found


def _describe(raw: RawTrigger) -> dict[str, Any] | None:
    found = _describe_names(raw[:-1])
    if found is not None:
        found["inside"] = raw[-1]
    return found


def _describe_names(raw: RawTrigger) -> dict[str, Any] | None:
    try:
        kind = raw[0]
        if kind == GRAPHQL:
            return graphql_fields.describe(raw)
        if kind == JINJA2:
            from perfdoctor.callsite import line_of

            _, template, code, offset = raw
            line = line_of(code, offset)
            mapped = template.get_corresponding_lineno(line) if template is not None else line
            return {
                "kind": kind,
                "template": getattr(template, "name", None) or code.co_filename,
                "path": getattr(template, "filename", None) or code.co_filename,
                "line": mapped,
            }
        if kind == DJANGO_TEMPLATE:
            _, name, path, line, expression = raw
            found: dict[str, Any] = {"kind": kind, "template": name, "path": path, "line": line}
            if expression:
                found["expression"] = expression
            return found
        _, cls, field, source = raw
        described: dict[str, Any] = {"kind": kind}
        if isinstance(cls, type):
            described["class"] = cls.__qualname__
            module = sys.modules.get(cls.__module__)
            path = getattr(module, "__file__", None)
            if path:
                described["path"] = os.path.abspath(path)
        if field:
            described["field"] = field
        if source:
            described["source"] = source
        return described
    except Exception:
        return None

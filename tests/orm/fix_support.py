"""Run an N+1 under capture, analyse it, and apply the machine-readable fix.

The fix tests measure the fix the way a user would: the loop runs once as
written and once on the queryset/select with the fix applied, both captured;
the first must be an N+1 whose fix names the right relation, the second must
issue the expected number of queries.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.model import Finding, Trace
from perfdoctor.settings import Settings
from tests.inprocess import capturing, load


@contextmanager
def captured(traces: Path) -> Iterator[None]:
    with capturing(traces):
        yield


def run(name: str, loop: Callable[[], Any]) -> Any:
    with perfdoctor.trace(name, "http"):
        return loop()


def traces_named(traces: Path, name: str) -> list[Trace]:
    perfdoctor.flush()
    return [t for t in load(traces) if t.name == name]


def n_plus_one(traces: Path, name: str, *, catalogs: bool = True) -> list[Finding]:
    """The N+1 findings of the traces called ``name``; ``catalogs=False`` analyses
    them as an old store or an OTLP import would give them: without the models."""
    found = traces_named(traces, name)
    for trace in found:
        # capture read the app's models: every trace carries them
        assert [c.framework for c in trace.orm], "capture stored no ORM catalog"
        if not catalogs:
            trace.orm = ()
    result = analyze(found, Settings())
    return [f for f in result.findings if f.id == "n-plus-one-query"]


def queries(traces: Path, name: str) -> int:
    [trace] = traces_named(traces, name)
    return len(trace.db_spans())


def model_class(key: str) -> Any:
    """A SQLAlchemy class from its catalog key ``module.Class``."""
    module, _, name = key.rpartition(".")
    return getattr(importlib.import_module(module), name)


# --- Django ------------------------------------------------------------------


def _django_expression(value: Any) -> Any:
    from django.apps import apps
    from django.db.models import Count, Exists, OuterRef

    if not isinstance(value, dict):
        return value
    if "Count" in value:
        return Count(value["Count"])
    if "OuterRef" in value:
        return OuterRef(value["OuterRef"])
    if "Exists" in value:
        spec = value["Exists"]
        model = apps.get_model(spec["model"])
        return Exists(
            model.objects.filter(**{k: _django_expression(v) for k, v in spec["filter"].items()})
        )
    raise AssertionError(f"unknown expression {value}")


def apply_django(queryset: Any, fix: dict[str, Any]) -> Any:
    """The queryset with the fix's calls added (``mode: add`` adds to .only())."""
    assert fix["framework"] == "django"
    assert queryset.model._meta.label == fix["on"], (queryset.model._meta.label, fix["on"])
    for call in fix["calls"]:
        if call.get("mode") == "add":
            fields, deferring = queryset.query.deferred_loading
            assert not deferring, "the tests defer with .only()"
            queryset = queryset.only(*fields, *call["args"])
            continue
        kwargs = {k: _django_expression(v) for k, v in call["kwargs"].items()}
        queryset = getattr(queryset, call["method"])(*call["args"], **kwargs)
    return queryset


# --- SQLAlchemy ---------------------------------------------------------------


def sqlalchemy_namespace(fix: dict[str, Any], *keys: str) -> dict[str, Any]:
    """What pasted fix code sees: sqlalchemy's functions and the model classes by
    their class names (each class named in the fix resolved from its catalog key)."""
    import sqlalchemy
    from sqlalchemy import orm

    space: dict[str, Any] = {"select": sqlalchemy.select, "func": sqlalchemy.func}
    for name in ("joinedload", "selectinload", "undefer", "load_only"):
        space[name] = getattr(orm, name)
    for key in keys:
        cls = model_class(key)
        space[cls.__name__] = cls
    return space


def apply_sqlalchemy(statement: Any, fix: dict[str, Any]) -> Any:
    """``statement.options(...)`` with the fix's option text, evaluated as pasted."""
    assert fix["framework"] == "sqlalchemy"
    keys = [link["class"] for chain in fix["chains"] for link in chain]
    space = sqlalchemy_namespace(fix, *keys)
    options = [eval(text, space) for text in fix["options"]]  # the fix text, as pasted
    return statement.options(*options)


@contextmanager
def django_captured(traces: Path) -> Iterator[None]:
    """Capture with Django's connection opened under capture (sqlite3 is traced at
    connect), on a fresh in-memory database with the test app's tables; the
    connection the other tests use is put back afterwards."""
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    with capturing(traces):
        saved = connection.connection
        connection.connection = None
        ContentType.objects.clear_cache()  # its ids belong to the other database
        try:
            connection.ensure_connection()
            with connection.schema_editor() as editor:
                for model in apps.get_models():
                    if model._meta.managed and not model._meta.proxy:
                        editor.create_model(model)
            yield
        finally:
            connection.connection.close()
            connection.connection = saved
            ContentType.objects.clear_cache()

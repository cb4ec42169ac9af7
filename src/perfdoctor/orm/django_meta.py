"""The models of a running Django app, as ``perfdoctor.orm.catalog`` JSON.

Runs inside the user's process (capture side, off the request path): stdlib and
Django only, plain dicts and lists, and it never raises — any surprise from an
unusual model or a Django version returns ``None`` and the app carries on.
Must stay importable on Python 3.9 (no ``match``, no ``slots=`` dataclasses).

Every name comes from ``Model._meta``: accessors are ``get_accessor_name()``
(``related_name`` or ``<model>_set``), query names ``related_query_name()``,
columns ``Field.column``, tables ``db_table``.  Relations inherited from a
multi-table parent are listed on the child too (``child.parent_fk`` and
``select_related("parent_fk")`` work on it), with the parent's columns.
"""

from __future__ import annotations

import sys
from typing import Any

# perfdoctor.orm.catalog.CATALOG_FORMAT; not imported: catalog.py is analysis-side
# (3.10+ dataclasses), this module runs in the app.
CATALOG_FORMAT = 1

Json = dict[str, Any]


def catalog() -> Json | None:
    """The catalog of every installed model, or ``None`` (apps not ready, or an error)."""
    try:
        return _catalog()
    except Exception:
        return None


def state() -> int:
    """How many models the app registry holds now (-1 before it is ready); cheap.

    Capture rebuilds the catalog only when this changes."""
    try:
        apps = _ready_apps()
        if apps is None:
            return -1
        return sum(len(models) for models in apps.all_models.values())
    except Exception:
        return -1


def _ready_apps() -> Any:
    registry = sys.modules.get("django.apps.registry")
    apps = getattr(registry, "apps", None)
    if apps is None or not getattr(apps, "ready", False):
        return None
    return apps


def _catalog() -> Json | None:
    apps = _ready_apps()
    if apps is None:
        return None
    import django

    models = []
    for model in apps.get_models():
        try:
            models.append(_model(model))
        except Exception:  # one odd model must not lose the rest
            continue
    return {
        "format": CATALOG_FORMAT,
        "framework": "django",
        "version": django.get_version(),
        "models": models,
    }


def _label(model: Any) -> str:
    return str(model._meta.label)


def _column(field: Any) -> str | None:
    column = getattr(field, "column", None)
    return str(column) if column else None


def _pk_columns(opts: Any) -> list[str]:
    pk = opts.pk
    if pk is None:
        return []
    column = _column(pk)
    if column:
        return [column]
    # Django 5.2 CompositePrimaryKey: no column of its own, one per part.
    return [c for c in (_column(f) for f in getattr(pk, "fields", ()) or ()) if c]


def _model(model: Any) -> Json:
    opts = model._meta
    concrete = opts.concrete_model._meta
    fields: dict[str, str] = {}
    for f in concrete.local_concrete_fields:
        column = _column(f)
        if column:
            fields[column] = f.name
    relations = []
    for f in opts.get_fields(include_hidden=False):
        try:
            rel = _relation(f)
        except Exception:
            rel = None
        if rel is not None:
            relations.append(rel)
    parents = [] if opts.proxy else [_label(p) for p in opts.parents]
    return {
        "key": _label(model),
        "name": model.__name__,
        "module": model.__module__,
        "table": concrete.db_table,
        "pk": _pk_columns(concrete),
        "fields": fields,
        "parents": parents,
        "relations": relations,
    }


def _relation(f: Any) -> Json | None:
    if not getattr(f, "is_relation", False):
        return None
    if f.auto_created and not f.concrete:
        return _reverse(f)
    if not f.concrete and hasattr(f, "fk_field") and hasattr(f, "ct_field"):
        return _generic_fk(f)
    if hasattr(f, "object_id_field_name") and hasattr(f, "content_type_field_name"):
        return _generic_relation(f)
    if f.many_to_many:
        return _m2m(f)
    if f.many_to_one or f.one_to_one:
        return _forward(f)
    return None


_OPTIONAL = ("column", "remote_column", "through", "through_source", "through_target", "query_name")


def _rel(name: str, kind: str, target: str, to_many: bool, **extra: Any) -> Json:
    out: Json = {"name": name, "kind": kind, "target": target, "to_many": to_many}
    for key in _OPTIONAL:
        out[key] = extra.get(key)
    out["lazy"] = None
    return out


def _forward(f: Any) -> Json:
    if f.one_to_one:
        kind = "parent_link" if getattr(f.remote_field, "parent_link", False) else "o2o"
    else:
        kind = "fk"
    target_field = getattr(f, "target_field", None)
    return _rel(
        f.name,
        kind,
        _label(f.related_model),
        False,
        column=_column(f),
        remote_column=_column(target_field),
        query_name=f.name,
    )


def _m2m(f: Any) -> Json:
    through = f.remote_field.through
    target = f.related_model
    return _rel(
        f.name,
        "m2m",
        _label(target),
        True,
        column=_column(f.model._meta.pk),
        remote_column=_column(target._meta.pk),
        through=through._meta.db_table,
        through_source=f.m2m_column_name(),
        through_target=f.m2m_reverse_name(),
        query_name=f.name,
    )


def _reverse(rel: Any) -> Json | None:
    """The other side of someone's FK / O2O / M2M (a ``ForeignObjectRel``)."""
    field = rel.field  # the forward field, on the related model
    accessor = rel.get_accessor_name()
    if not accessor:
        return None
    target = _label(rel.related_model)
    query_name = field.related_query_name()
    if rel.many_to_many:
        return _rel(
            accessor,
            "reverse_m2m",
            target,
            True,
            column=_column(rel.model._meta.pk),
            remote_column=_column(rel.related_model._meta.pk),
            through=field.remote_field.through._meta.db_table,
            through_source=field.m2m_reverse_name(),
            through_target=field.m2m_column_name(),
            query_name=query_name,
        )
    if type(field).__name__ == "GenericRelation":
        return None  # GenericRel: a filter name on the GFK side, not an attribute
    kind = "reverse_o2o" if rel.one_to_one else "reverse_fk"
    return _rel(
        accessor,
        kind,
        target,
        not rel.one_to_one,
        column=_column(getattr(field, "target_field", None)),
        remote_column=_column(field),
        query_name=query_name,
    )


def reverse_accessor(model_name: str, related_name: str | None, one_to_one: bool) -> str | None:
    """The attribute the other model gets for a relation declared on ``model_name``,
    as Django's ``ForeignObjectRel.get_accessor_name()`` spells it: ``related_name``,
    none when it ends with "+", else ``<model>`` (one-to-one) or ``<model>_set``.

    Pure, so the static lint (which has no running app) names relations as this
    catalog does."""
    if related_name:
        return None if related_name.endswith("+") else related_name
    return model_name.lower() + ("" if one_to_one else "_set")


def reverse_query_name(
    model_name: str, related_name: str | None, related_query_name: str | None
) -> str:
    """The lookup name (filter, annotate) of that reverse relation, as Django's
    ``related_query_name()``: ``related_query_name``, else ``related_name``, else
    the model's name in lower case (``Count("review")``, while the attribute and
    ``prefetch_related`` say ``review_set``)."""
    return related_query_name or related_name or model_name.lower()


def _generic_fk(f: Any) -> Json:
    opts = f.model._meta
    return _rel(
        f.name,
        "gfk",
        "",
        False,
        # the object id column; the content-type column is the fk named by ct_field
        column=_column(opts.get_field(f.fk_field)),
        remote_column=None,
        query_name=f.name,
    )


def _generic_relation(f: Any) -> Json:
    target = f.related_model
    return _rel(
        f.name,
        "generic_relation",
        _label(target),
        True,
        column=_column(f.model._meta.pk),
        remote_column=_column(target._meta.get_field(f.object_id_field_name)),
        query_name=f.name,
    )

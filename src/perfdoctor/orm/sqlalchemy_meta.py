"""The mapped classes of a running SQLAlchemy app, as ``perfdoctor.orm.catalog`` JSON.

Runs inside the user's process (capture side, in the recorder's thread): stdlib
and SQLAlchemy only, plain dicts and lists, never raises (``None`` instead), and
importable on Python 3.9.  Works with SQLAlchemy 1.3, 1.4 and 2.x.

It only *reads*: mappers that are not configured yet are left out, and nothing
here may trigger configuration — ``Mapper.relationships`` and friends call
``configure_mappers()`` when the registry has new mappers, which from a
background thread would race the app's own first query.  So properties are
read from ``Mapper._props`` and registries from the module-level weak maps.
"""

from __future__ import annotations

import sys
from typing import Any

# perfdoctor.orm.catalog.CATALOG_FORMAT; not imported: catalog.py is analysis-side
# (3.10+ dataclasses), this module runs in the app.
CATALOG_FORMAT = 1

Json = dict[str, Any]

# relationship(lazy=True/False/None) are old spellings of these strategies.
_LAZY_ALIASES = {True: "select", False: "joined", None: "noload"}


def catalog() -> Json | None:
    """The catalog of every configured mapper, or ``None`` (none, or an error)."""
    try:
        return _catalog()
    except Exception:
        return None


def state() -> tuple[int, int]:
    """(mapped classes, registries with mappers still to configure) now; cheap.

    A new mapper or a configuration run changes it: capture rebuilds the
    catalog only then.  ``(-1, -1)`` on error."""
    try:
        module = sys.modules.get("sqlalchemy.orm.mapper")
        if module is None:
            return (0, 0)
        registries = getattr(module, "_mapper_registries", None)
        if registries is not None:  # 1.4 / 2.x
            found = list(registries)
            mapped = sum(len(getattr(r, "_managers", ())) for r in found)
            return (mapped, sum(1 for r in found if getattr(r, "_new_mappers", False)))
        legacy = getattr(module, "_mapper_registry", None) or ()  # 1.3
        new = getattr(getattr(module, "Mapper", None), "_new_mappers", False)
        return (len(legacy), 1 if new else 0)
    except Exception:
        return (-1, -1)


def _mappers() -> list[Any]:
    module = sys.modules.get("sqlalchemy.orm.mapper")
    if module is None:
        return []
    registries = getattr(module, "_mapper_registries", None)
    if registries is not None:  # 1.4 / 2.x: registry -> True
        mappers: list[Any] = []
        for registry in list(registries):
            managers = getattr(registry, "_managers", None)
            if managers is None:
                continue
            for manager in list(managers):
                try:
                    mappers.append(manager.mapper)
                except Exception:
                    continue
        return mappers
    legacy = getattr(module, "_mapper_registry", None)  # 1.3: mapper -> True
    return list(legacy) if legacy is not None else []


def _configured(mapper: Any) -> bool:
    return bool(getattr(mapper, "configured", False)) and not getattr(mapper, "non_primary", False)


def _catalog() -> Json | None:
    mappers = [m for m in _mappers() if _configured(m)]
    if not mappers:
        return None
    import sqlalchemy
    from sqlalchemy.orm import ColumnProperty, RelationshipProperty

    kinds = (ColumnProperty, RelationshipProperty)
    models = []
    for mapper in mappers:
        try:
            models.append(_model(mapper, kinds))
        except Exception:
            continue
    return {
        "format": CATALOG_FORMAT,
        "framework": "sqlalchemy",
        "version": str(sqlalchemy.__version__),
        "models": models,
    }


def key(mapper: Any) -> str:
    cls = mapper.class_
    return f"{cls.__module__}.{cls.__qualname__}"


def _table_name(selectable: Any) -> str:
    name = getattr(selectable, "name", None)
    if name is None:
        return ""
    schema = getattr(selectable, "schema", None)
    return f"{schema}.{name}" if schema else str(name)


def _model(mapper: Any, kinds: tuple[Any, Any]) -> Json:
    table = mapper.local_table
    if getattr(table, "name", None) is None:
        table = mapper.persist_selectable
    fields: dict[str, str] = {}
    relations: list[Json] = []
    column_kind, relationship_kind = kinds
    for prop in list(mapper._props.values()):
        if isinstance(prop, column_kind):
            for column in prop.columns:
                if getattr(column, "table", None) is table and getattr(column, "name", None):
                    fields.setdefault(str(column.name), str(prop.key))
        elif isinstance(prop, relationship_kind):
            rel = _relation(prop)
            if rel is not None:
                relations.append(rel)
    # the table's own key (joined inheritance: engineers.id, not employees.id)
    pk_columns = list(getattr(getattr(table, "primary_key", None), "columns", ()) or ())
    pk_columns = pk_columns or list(mapper.primary_key)
    parents: list[str] = []
    parent = mapper.inherits
    if parent is not None and parent.local_table is not mapper.local_table:
        parents.append(key(parent))  # joined-table inheritance: a table of its own
    return {
        "key": key(mapper),
        "name": mapper.class_.__name__,
        "module": mapper.class_.__module__,
        "table": _table_name(table),
        "pk": [str(c.name) for c in pk_columns],
        "fields": fields,
        "parents": parents,
        "relations": relations,
    }


def _first_pair(pairs: Any) -> tuple[str | None, str | None]:
    for local, remote in pairs or ():
        return (getattr(local, "name", None), getattr(remote, "name", None))
    return (None, None)


def _lazy(value: Any) -> str:
    if isinstance(value, str):
        return value
    return _LAZY_ALIASES.get(value, str(value))


def _relation(prop: Any) -> Json | None:
    direction = getattr(prop.direction, "name", str(prop.direction)).upper()
    uselist = bool(prop.uselist)
    out: Json = {
        "name": str(prop.key),
        "kind": "",
        "target": key(prop.mapper),
        "to_many": uselist,
        "column": None,
        "remote_column": None,
        "through": None,
        "through_source": None,
        "through_target": None,
        "lazy": _lazy(prop.lazy),
        "query_name": None,
    }
    if direction.endswith("MANYTOMANY"):
        out["kind"] = "m2m"
        secondary = prop.secondary
        out["through"] = _table_name(secondary) if secondary is not None else None
        # synchronize_pairs: (this side's column, association column);
        # secondary_synchronize_pairs: (target's column, association column).
        local, through_source = _first_pair(prop.synchronize_pairs)
        remote, through_target = _first_pair(prop.secondary_synchronize_pairs)
        out.update(column=local, remote_column=remote)
        out.update(through_source=through_source, through_target=through_target)
        return out
    local, remote = _first_pair(prop.local_remote_pairs)
    out["column"] = local
    out["remote_column"] = remote
    if direction.endswith("MANYTOONE"):
        out["kind"] = "fk"
    elif direction.endswith("ONETOMANY"):
        out["kind"] = "reverse_fk" if uselist else "reverse_o2o"
    else:
        return None
    return out

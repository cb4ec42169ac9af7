"""ORM catalogs in the trace store: their canonical JSON, and parsing it once.

The store keeps each catalog once in its ``orm_catalogs`` table, under the
content id of its JSON; a trace names its catalogs in ``attrs["orm"]``.  The
JSON is canonical (sorted keys, no spaces), so a parsed :class:`Catalog`
serialises back to the very text capture wrote: rewriting traces or an OTLP
export and import keep the same ids.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from typing import Any

from perfdoctor.orm.catalog import CATALOG_FORMAT, Catalog


def catalog_text(data: dict[str, Any]) -> str:
    """A catalog's stored JSON: equal models give an equal content id in every
    process, and after an export and import."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def catalog_json(catalog: Catalog) -> str:
    """The stored JSON of a parsed catalog: the text capture wrote (same id)."""
    return catalog_text(
        {
            "format": CATALOG_FORMAT,
            "framework": catalog.framework,
            "version": catalog.version,
            "models": [dataclasses.asdict(model) for model in catalog.models.values()],
        }
    )


def catalog_ids(
    catalogs: tuple[Catalog, ...], texts: dict[str, str], seen: dict[int, str] | None = None
) -> list[str]:
    """The content ids of ``catalogs`` (a trace's ``orm``), adding each one's
    JSON to ``texts``.  ``seen`` (object id -> content id) spares serialising a
    catalog that many traces share more than once."""
    from perfdoctor.store import content_id  # the store imports this module

    ids = []
    for catalog in catalogs:
        catalog_id = seen.get(id(catalog)) if seen is not None else None
        if catalog_id is None or catalog_id not in texts:
            text = catalog_json(catalog)
            catalog_id = content_id(text)
            texts[catalog_id] = text
            if seen is not None:
                seen[id(catalog)] = catalog_id
        ids.append(catalog_id)
    return ids


def texts_in(conn: sqlite3.Connection) -> dict[str, str]:
    """content id -> JSON of every catalog in a store (none in an older store)."""
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'orm_catalogs'"
    ).fetchone()
    if not has_table:  # written before catalogs were stored
        return {}
    return dict(conn.execute("SELECT id, catalog FROM orm_catalogs"))


# Parsed catalogs by content id: every trace of a process shares one object, and
# so do successive loads (the pytest plugin converts each test's trace).
_PARSED: dict[str, Catalog | None] = {}
_MAX_PARSED = 64


def catalogs_for(attrs: dict[str, Any], texts: dict[str, str]) -> tuple[Catalog, ...]:
    """The catalogs a trace's ``attrs["orm"]`` names, parsed once per id.

    A missing or unreadable catalog is left out: a fix then says what to look
    for instead of naming a relation."""
    ids = attrs.get("orm")
    if not ids or not isinstance(ids, list):
        return ()
    found = []
    for catalog_id in ids:
        text = texts.get(catalog_id)
        if text is None:  # not in this store
            continue
        if catalog_id not in _PARSED:
            if len(_PARSED) >= _MAX_PARSED:
                _PARSED.clear()
            try:
                _PARSED[catalog_id] = Catalog.from_json(text)
            except (ValueError, KeyError, TypeError, AttributeError):  # a damaged row
                _PARSED[catalog_id] = None
        parsed = _PARSED[catalog_id]
        if parsed is not None:
            found.append(parsed)
    return tuple(found)

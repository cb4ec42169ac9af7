"""The models of a running app, as its ORM describes them.

Capture writes one JSON document per ORM per process (see ``CATALOG_FORMAT``);
analysis reads it back into these classes.  Every relation name a fix prints
comes from here, never from a table name.

JSON format (version 1)::

    {"format": 1, "framework": "django" | "sqlalchemy", "version": "4.2.7",
     "models": [
       {"key": "blog.Post",            # unique: Django "app_label.Model", SQLAlchemy "module.Class"
        "name": "Post", "module": "blog.models", "table": "blog_post",
        "pk": ["id"],                   # primary key columns
        "fields": {"title": "title", "author_id": "author"},   # column -> attribute name
        "parents": ["blog.Entry"],      # multi-table inheritance parents (keys)
        "relations": [
          {"name": "author",            # the attribute the user writes (reverse: the accessor)
           "kind": "fk",                # see KINDS
           "target": "auth.User",       # key of the related model ("" for a GenericForeignKey)
           "to_many": false,
           "column": "author_id",       # forward: the FK column on this model's table
           "remote_column": "id",       # forward: the column it points at; reverse: the FK
                                        # column on the target's table
           "through": null,             # many-to-many: the association table
           "through_source": null,      # ... its column pointing at this model
           "through_target": null,      # ... its column pointing at the target
           "lazy": null,                # SQLAlchemy loader strategy (select, joined, selectin,
                                        # subquery, dynamic, write_only, raise, noload, immediate)
           "query_name": "author"}      # Django: the name used in filters / Count() / Prefetch
        ]}]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

CATALOG_FORMAT = 1

# fk / o2o: forward many-to-one / one-to-one (the FK column is on this model);
# reverse_fk / reverse_o2o: the other side of someone's fk / o2o;
# m2m / reverse_m2m: through an association table;
# gfk: Django GenericForeignKey (content_type + object_id); generic_relation: its reverse;
# parent_link: multi-table inheritance link to a parent model.
KINDS = (
    "fk",
    "o2o",
    "reverse_fk",
    "reverse_o2o",
    "m2m",
    "reverse_m2m",
    "gfk",
    "generic_relation",
    "parent_link",
)


@dataclass(frozen=True)
class Relation:
    name: str
    kind: str
    target: str
    to_many: bool
    column: str | None = None
    remote_column: str | None = None
    through: str | None = None
    through_source: str | None = None
    through_target: str | None = None
    lazy: str | None = None
    query_name: str | None = None


@dataclass(frozen=True)
class Model:
    key: str
    name: str
    module: str
    table: str
    pk: tuple[str, ...]
    fields: dict[str, str]
    relations: tuple[Relation, ...]
    parents: tuple[str, ...] = ()

    def relation(self, name: str) -> Relation | None:
        for rel in self.relations:
            if rel.name == name:
                return rel
        return None


@dataclass
class Catalog:
    framework: str
    version: str
    models: dict[str, Model] = field(default_factory=dict)

    def by_table(self, table: str) -> list[Model]:
        """Models stored in ``table`` (case-insensitive; schema prefix ignored)."""
        wanted = table.lower().rsplit(".", 1)[-1]
        return [m for m in self.models.values() if m.table.lower().rsplit(".", 1)[-1] == wanted]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Catalog:
        models: dict[str, Model] = {}
        for raw in data.get("models") or []:
            relations = tuple(
                Relation(
                    name=str(r["name"]),
                    kind=str(r["kind"]),
                    target=str(r.get("target") or ""),
                    to_many=bool(r.get("to_many")),
                    column=r.get("column"),
                    remote_column=r.get("remote_column"),
                    through=r.get("through"),
                    through_source=r.get("through_source"),
                    through_target=r.get("through_target"),
                    lazy=r.get("lazy"),
                    query_name=r.get("query_name"),
                )
                for r in raw.get("relations") or []
            )
            model = Model(
                key=str(raw["key"]),
                name=str(raw["name"]),
                module=str(raw.get("module") or ""),
                table=str(raw["table"]),
                pk=tuple(raw.get("pk") or ()),
                fields=dict(raw.get("fields") or {}),
                relations=relations,
                parents=tuple(raw.get("parents") or ()),
            )
            models[model.key] = model
        return cls(str(data.get("framework") or ""), str(data.get("version") or ""), models)

    @classmethod
    def from_json(cls, text: str) -> Catalog:
        return cls.from_dict(json.loads(text))

"""Fixes that name no model: raw SQL, and ORM queries no catalog explains.

A driver-level query gets "collect the keys, one ``IN`` query".  An ORM query
without a catalog (an old store, an OTLP import) or that the catalog does not
explain gets what to look for, in the words of its SQL: tables and columns are
real, relation names would be guesses, so none is printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perfdoctor.orm.resolve import Path, Resolution


@dataclass(frozen=True)
class Fix:
    text: str
    what: str  # what the repeated queries load, for the finding's title
    machine: dict[str, Any] | None = None  # evidence["orm_fix"]: a fix a program can apply
    # The relations the fix names, as Model.attribute ([tool.perfdoctor.ignore] model =).
    relations: tuple[str, ...] = ()


# Relations named in a title at most; the fix names every one.
_TITLE_CANDIDATES = 3


def what(res: Resolution) -> str:
    """What the repeated queries load, in the title's words."""
    if res.kind == "membership" and res.paths:
        return f"whether {qualified(res, res.paths[0])} holds each row"
    if res.kind == "relation" and res.paths:
        return " and ".join(".".join(s.relation.name for s in p) for p in res.paths)
    if res.candidates:
        names = [".".join(s.relation.name for s in p) for p in res.candidates]
        if len(names) > _TITLE_CANDIDATES:
            # Wagtail's pages reach an image through nine relations: the fix lists them.
            more = len(names) - _TITLE_CANDIDATES
            return f"{' or '.join(names[:_TITLE_CANDIDATES])} (or {more} more relations)"
        return " or ".join(names)
    if res.kind in ("count", "exists") and res.paths:
        name = ".".join(s.relation.name for s in res.paths[0])
        return f"the count of {name}" if res.kind == "count" else f"whether {name} exist"
    if res.kind == "deferred" and res.target is not None:
        return f"deferred field {', '.join(res.fields)} of {res.target.name}"
    if res.kind in ("lookup", "count", "exists") and res.target is not None:
        return f"{res.target.name} by {res.fields[0]}"
    return f"rows of {res.table}" if res.table else "related rows"


def qualified(res: Resolution, path: Path) -> str:
    """``Post.owner.user``: the loop's model and the attributes read."""
    return ".".join((path[0].owner.name, *(s.relation.name for s in path)))


def class_ref(res: Resolution, key: str) -> str:
    """A model's class name, with its module when another model has that name."""
    assert res.catalog is not None
    model = res.catalog.models[key]
    same = [m for m in res.catalog.models.values() if m.name == model.name]
    return model.name if len(same) == 1 else f"{model.name} (from {model.module})"


def raw(res: Resolution) -> Fix:
    table = res.table or "the related table"
    key = f"WHERE {res.column} IN (...)" if res.column else "WHERE key IN (...)"
    if res.aggregate:
        text = (
            f"Count the rows of {table} for every key in one query ({key} GROUP BY "
            f"{res.column or 'the key'}) before the loop, then look the counts up in a dict."
        )
    else:
        text = (
            f"Collect the keys first and fetch all rows of {table} in one query ({key}), "
            "then look them up in a dict inside the loop."
        )
    machine = {"framework": None, "kind": "batch", "table": res.table, "column": res.column}
    return Fix(text, what(res), machine)


def look_for(res: Resolution) -> Fix:
    """An ORM query no catalog explains: say what to look for, name nothing unproven."""
    table = res.table or "the related table"
    if res.loop is not None:
        rows = f"{res.loop.name}"
    elif res.loop_table:
        rows = f"the rows of {res.loop_table}"
    else:
        rows = "the rows the loop walks"
    relation = f"the relation of {rows} that loads {table}"
    if res.aggregate:
        how = (
            '.annotate(n=Count("<relation>"))'
            if res.framework == "django"
            else "one grouped count, select(<Class>.id, func.count()).join(<Class>.<relation>)"
            ".group_by(<Class>.id)"
        )
        text = (
            f"Count {table} for every row at once: find {relation} and count it in one "
            f"query with {how} instead of one "
            f"{'COUNT' if res.aggregate == 'count' else 'EXISTS'} per row."
        )
    elif res.framework == "django":
        text = (
            f"Load {table} with the list: find {relation} and add it to the queryset the "
            'loop iterates — .select_related("<relation>") for a ForeignKey/OneToOne, '
            '.prefetch_related("<relation>") for a reverse ForeignKey, ManyToMany or '
            "GenericForeignKey."
        )
    else:
        text = (
            f"Eager-load {relation} on the query the loop iterates: "
            ".options(joinedload(<Class>.<relation>)) for a many-to-one, "
            ".options(selectinload(<Class>.<relation>)) for a collection "
            '(a lazy="dynamic" or write_only relationship cannot be eager-loaded: '
            "load its rows for every key in one query, WHERE key IN (...))."
        )
    machine = {"framework": res.framework, "kind": "look_for", "table": res.table}
    return Fix(text, what(res), machine)

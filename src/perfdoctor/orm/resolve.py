"""Which relation of the app's models issued a repeated query, proven from its SQL.

``resolve`` reads the repeated statement, the query that fetched the rows the
loop walks (the parent) and the catalog the ORM wrote, and says what the
repeated query is:

``relation``  a relation load; ``paths`` lead from the loop's model to it
              (``owner`` → ``user`` for ``post.owner.user``);
``count``     a COUNT(*) per row of a to-many relation (or, with no path, of a
              table filtered on ``column``);
``exists``    the same for an EXISTS / ``SELECT 1 ... LIMIT 1`` per row;
``deferred``  a column of the loop's own rows left out by ``.only()``/``.defer()``
              (``load_only``), read one row at a time: ``fields``;
``membership`` one object's to-many relation tested once per row for that row
              (``profile.follows.filter(pk=other.pk).exists()``): the query filters
              on both ends of the relation; ``paths`` holds the one relation;
``lookup``    a ``.get()``/``.filter().first()`` per row that no relation of the
              loop's model explains: ``target`` filtered on ``column``;
``unknown``   nothing provable (no catalog, SQL that cannot be read).

When several relations fit the SQL equally, nothing is picked: ``candidates``
lists them for the fix to name as what to look for.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from perfdoctor.model import Span
from perfdoctor.orm.catalog import Catalog, Model, Relation
from perfdoctor.orm.sa_loading import NOT_EAGER
from perfdoctor.orm.shape import Shape, shape

TO_MANY = frozenset({"reverse_fk", "m2m", "reverse_m2m", "generic_relation"})
# A loop rarely reads further than post.owner.user.profile; deeper paths only
# multiply the candidates the SQL cannot tell apart.
MAX_PATH = 3
# A call on the call-site line that is a query of its own, not a relation read.
_QUERY_CALL = re.compile(
    r"\.(get|filter|first|last|exclude|get_or_create|in_bulk|scalar|scalars|execute|"
    r"one|one_or_none|query|where)\s*\("
)
_ATTRIBUTE = re.compile(r"\.\s*([A-Za-z_]\w*)")
_QUOTED = re.compile(r"""["']([\w.]+)["']""")


@dataclass(frozen=True)
class Step:
    owner: Model  # the model the relation is declared on (reached so far)
    relation: Relation
    target: Model | None  # None for a GenericForeignKey: any model


Path = tuple[Step, ...]


@dataclass(frozen=True)
class Resolution:
    kind: str  # relation, count, exists, membership, deferred, lookup, tree_children, unknown
    framework: str | None  # the library that issued the query (None: the driver)
    table: str | None  # the repeated query's table
    catalog: Catalog | None = None
    loop: Model | None = None  # the model of the rows the loop walks
    loop_table: str | None = None
    paths: tuple[Path, ...] = ()  # the relation(s) that issued the queries
    candidates: tuple[Path, ...] = ()  # relations that fit equally: not picked
    target: Model | None = None  # deferred: the loop's model; lookup/count: the model filtered
    fields: tuple[str, ...] = ()  # deferred: attribute names; lookup: the attribute filtered
    column: str | None = None  # the column compared with the parameter
    many: bool = False  # lookup: a key may match several rows
    aggregate: str | None = None  # the query is a COUNT ("count") or an EXISTS ("exists")
    # lookup: the first row per key by this ORDER BY (attribute, descending) — the
    # per-row query was .order_by(...).first() / [:1], not a lookup of one row
    first_by: tuple[tuple[str, bool], ...] = ()
    # The loop's rows are Wagtail pages its .specific() loaded: a query per page
    # type, by the ids of a Page query (WHERE page_ptr_id IN (...)).
    specific: bool = False
    # The loop's query has GROUP BY: an eager load by JOIN would add columns that
    # PostgreSQL and MySQL's ONLY_FULL_GROUP_BY refuse.
    grouped: bool = False


def _name(table: str) -> str:
    return table.lower().rsplit(".", 1)[-1]


def tokens(source: str) -> frozenset[str]:
    """Attribute names a line of code reads (``post.owner.user`` → owner, user),
    and dotted names in its strings (``"author.name"``)."""
    found = set(_ATTRIBUTE.findall(source))
    for quoted in _QUOTED.findall(source):
        found.update(part for part in re.split(r"\.|__", quoted) if part)
    return frozenset(found)


def _catalog(catalogs: Sequence[Catalog], framework: str | None, table: str) -> Catalog | None:
    mine = [c for c in catalogs if framework and c.framework == framework]
    for catalog in mine:
        if catalog.by_table(table) or any(
            r.through and _name(r.through) == table
            for m in catalog.models.values()
            for r in m.relations
        ):
            return catalog
    return mine[0] if mine else None


def _fits(catalog: Catalog, rel: Relation, sql: Shape) -> tuple[bool, Model | None]:
    """Whether loading ``rel`` issues ``sql``; and the model it loads."""
    filters = set(sql.filters)
    if rel.kind == "gfk":
        for model in catalog.by_table(sql.table):
            if model.pk and (sql.table, model.pk[0].lower()) in filters:
                return True, None
        return False, None
    target = catalog.models.get(rel.target)
    if target is None:
        return False, None
    if rel.kind in ("m2m", "reverse_m2m"):
        if not rel.through or not rel.through_source:
            return False, None
        through = _name(rel.through)
        if (through, rel.through_source.lower()) not in filters:
            return False, None
        # Django counts and tests a many-to-many on the association table alone.
        alone = sql.aggregate is not None and sql.table == through
        return _name(target.table) in sql.tables or alone, target
    if _name(target.table) != sql.table:
        return False, None
    column = rel.remote_column or (target.pk[0] if target.pk else None)
    return bool(column) and (sql.table, str(column).lower()) in filters, target


def _paths(catalog: Catalog, loop: Model, sql: Shape) -> Iterator[Path]:
    """Every path of relations from ``loop`` whose last step issues ``sql``.

    A path never comes back to a table it passed (proxies and single-table
    subclasses share their parent's table: going through one is a cycle).
    """
    wanted = TO_MANY if sql.aggregate else None

    def walk(model: Model, prefix: Path, seen: frozenset[str]) -> Iterator[Path]:
        for rel in model.relations:
            fits, target = _fits(catalog, rel, sql)
            if fits and (wanted is None or rel.kind in wanted):
                yield (*prefix, Step(model, rel, target))
            nxt = catalog.models.get(rel.target)
            if nxt is None or len(prefix) + 1 >= MAX_PATH or _name(nxt.table) in seen:
                continue
            yield from walk(nxt, (*prefix, Step(model, rel, nxt)), seen | {_name(nxt.table)})

    yield from walk(loop, (), frozenset({_name(loop.table)}))


# (catalog, loop model, query shape) -> the paths found.  One N+1 is resolved
# again for each set of statements read before its loop, and each time the paths
# from every model of the loop's table were walked anew: on the bakery demo, 41
# resolutions of the same few queries, from each of Wagtail's page types.
_WALKS: dict[tuple[int, int, Shape], tuple[weakref.ref[Catalog], Model, tuple[Path, ...]]] = {}
_MOST_WALKS = 4096


def _walked(catalog: Catalog, loop: Model, sql: Shape) -> tuple[Path, ...]:
    """:func:`_paths`, remembered (the same catalog and model objects, an equal shape)."""
    key = (id(catalog), id(loop), sql)
    hit = _WALKS.get(key)
    if hit is not None and hit[0]() is catalog and hit[1] is loop:
        return hit[2]
    found = tuple(_paths(catalog, loop, sql))
    if len(_WALKS) >= _MOST_WALKS:
        _WALKS.clear()
    _WALKS[key] = (weakref.ref(catalog), loop, found)
    return found


def _names(step: Step) -> set[str]:
    names = {step.relation.name}
    if step.relation.column and step.relation.kind in ("fk", "o2o", "parent_link"):
        names.add(step.relation.column)  # Author.objects.get(pk=post.author_id)
    return names


def _signature(path: Path) -> tuple[tuple[str, str], ...]:
    return tuple((s.relation.name, s.relation.kind) for s in path)


def _through(path: Path) -> list[str]:
    """Tables of the rows a path passes through before its last step."""
    return [_name(s.target.table) for s in path[:-1] if s.target is not None]


def _choose(
    found: list[Path], read: frozenset[str], joined: frozenset[str], loaded: frozenset[str]
) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """(picked, candidates).

    The line's attribute names come first; a path is possible only if the rows
    it passes through were loaded before (``post.owner.user`` needs posts and
    profiles in the trace); then the tables the parent query already joins.
    Paths the evidence cannot tell apart are not picked: they are candidates.
    """
    # A proxy (or a single-table subclass) repeats its parent's relations: the
    # same path, found from the first model of the table, is one candidate.
    pool = list({_signature(p): p for p in reversed(found)}.values())[::-1]
    if not pool:
        return (), ()
    named = [p for p in pool if _names(p[-1]) & read]
    pool = named or pool
    pool = [p for p in pool if set(_through(p)) <= loaded] or pool
    if named:
        fewest = min(sum(not (_names(s) & read) for s in p) for p in pool)
        pool = [p for p in pool if sum(not (_names(s) & read) for s in p) == fewest]
        shortest = min(map(len, pool))
        pool = [p for p in pool if len(p) == shortest]
    top = max(len(set(_through(p)) & joined) for p in pool)
    pool = [p for p in pool if len(set(_through(p)) & joined) == top]
    last_names = [p[-1].relation.name for p in pool]
    if len(pool) == 1 or (named and len(set(last_names)) == len(pool)):
        return tuple(pool), ()  # one, or several the line reads each of
    return (), tuple(pool)


def _proven(catalog: Catalog, path: Path, earlier: Sequence[Shape], joined: frozenset[str]) -> bool:
    """Whether the request really loaded, row by row, the objects a nested path passes
    through: each step before the last is JOINed by the parent query or was issued
    as its own query earlier (a count does not load rows).

    ``comment.article.author`` cannot repeat once per comment when the one article
    was read once: the identity map hands the same author back.
    """
    for step in path[:-1]:
        if step.target is not None and _name(step.target.table) in joined:
            continue
        if not any(
            e.aggregate is None and _fits(catalog, step.relation, e)[0] for e in earlier
        ):
            return False
    return True


def _deferred(model: Model, child: Shape, parent: Shape) -> tuple[str, ...]:
    """Attributes of ``model`` a pk lookup on its own table loads after the parent
    query left them out: a deferred-field load, not a relation."""
    if child.aggregate or child.selected is None or parent.selected is None:
        return ()
    pk = {c.lower() for c in model.pk}
    if child.table != _name(model.table) or not child.filters:
        return ()
    if any(col not in pk for _t, col in child.filters):
        return ()
    columns = {c.lower(): attr for c, attr in model.fields.items()}
    loaded = {c for t, c in parent.selected if t == child.table}
    late = [c for t, c in child.selected if t == child.table and c not in pk]
    rest = set(columns) - pk
    if not late or any(c in loaded or c not in columns for c in late) or set(late) >= rest:
        return ()  # a self-referential relation loads every column
    return tuple(dict.fromkeys(columns[c] for c in late))


def _queries(source: str, targets: list[Model]) -> bool:
    """Whether the line is a query of its own for the loaded model (``Tag.objects.get(``,
    ``session.get(Tag, ...)``), not a line that only hands rows on (a view's render())."""
    if not _QUERY_CALL.search(source):
        return False
    return any(re.search(rf"\b{re.escape(m.name)}\b", source) for m in targets)


def _membership(catalog: Catalog, sql: Shape, source: str) -> list[Path]:
    """To-many relations whose query also filters on the far end's key: one
    object's collection asked, row after row, whether it holds that row.

    Loading a relation filters on its owner's key only; a filter on the target's
    key too means the loop does not read the collection, it tests membership
    (``is_following``, ``has_favorited``), and no eager load of the loop's rows
    removes that query: the owner is usually the same object on every row.
    """
    filters = set(sql.filters)
    found: list[Path] = []
    for model in catalog.models.values():
        for rel in model.relations:
            if rel.kind not in ("reverse_fk", "m2m", "reverse_m2m"):
                continue
            fits, target = _fits(catalog, rel, sql)
            if not fits or target is None:
                continue
            far = {(_name(target.table), c.lower()) for c in target.pk}
            if rel.through and rel.through_target:
                far.add((_name(rel.through), rel.through_target.lower()))
            if far & filters:
                found.append((Step(model, rel, target),))
    # Both sides of a self-referential many-to-many fit (follows / followed_by):
    # the relation the line calls comes first in it, its filter's column after.
    first: dict[int, Path] = {}
    for path in found:
        at = re.search(rf"\.\s*{re.escape(path[-1].relation.name)}\b", source)
        if at is not None:
            first.setdefault(at.start(), path)
    return [first[min(first)]] if first else found


def _loop_models(catalog: Catalog, outer: Shape | None) -> list[Model]:
    """Models of the rows the parent query fetched: its table's, and before them a
    subclass whose own table it joins (joined-table / multi-table inheritance)."""
    if outer is None:
        return []
    base = catalog.by_table(outer.table)
    if len(base) > 1 and outer.selected:
        # Two registries can map one table name (two apps in one process): the
        # model is the one that has every column the parent query read.
        read = {c for t, c in outer.selected if t == outer.table}
        base = [m for m in base if read <= {c.lower() for c in m.fields}] or base
    keys = {m.key for m in base}
    subclasses = [
        m
        for m in catalog.models.values()
        if _name(m.table) in outer.tables and m.key not in keys and keys & set(m.parents)
    ]
    return subclasses + base


WAGTAIL_PAGE = "wagtailcore.Page"


def _specific_pages(model: Model, statement: str) -> bool:
    """Whether ``statement`` is the query Wagtail's .specific() runs for one page
    type: the type's rows by the ids the Page query found."""
    if WAGTAIL_PAGE not in model.parents or not model.pk:
        return False
    column = re.escape(model.pk[0])
    table = re.escape(_name(model.table))
    found = re.search(rf'"?{table}"?\."?{column}"?\s+IN\s*\(', statement, re.IGNORECASE)
    return found is not None


def resolve(
    child: Span,
    parent: Span | None,
    catalogs: Sequence[Catalog],
    source: str = "",
    loaded: frozenset[str] = frozenset(),
    earlier: Sequence[Shape] = (),
) -> Resolution:
    """What ``child`` (the first of the repeated queries) is, from the models.

    ``source`` is the call site's line; ``loaded`` the tables the request read
    before ``child`` (what a nested path could have passed through); ``earlier``
    the shapes of those reads, which prove a nested path's middle steps.
    """
    sql = shape(child.statement, child.system) if child.statement else None
    outer = shape(parent.statement, parent.system) if parent and parent.statement else None
    if sql is None:
        return Resolution("unknown", child.framework, None)
    base = Resolution(
        "unknown",
        child.framework,
        sql.table,
        loop_table=outer.table if outer else None,
        grouped=outer.grouped if outer else False,
        column=sql.filters[0][1] if sql.filters else None,
        aggregate=sql.aggregate,
    )
    catalog = _catalog(catalogs, child.framework, sql.table)
    if catalog is None:
        return base
    base = replace(base, catalog=catalog)
    loops = _loop_models(catalog, outer)
    if len(loops) == 1:
        base = replace(base, loop=loops[0])
        if parent is not None and _specific_pages(loops[0], parent.statement or ""):
            base = replace(base, specific=True)
    if outer is not None:
        for model in loops:
            late = _deferred(model, sql, outer)
            if late:
                return replace(base, kind="deferred", loop=model, target=model, fields=late)
    read = tokens(source)
    members = _membership(catalog, sql, source)
    if len(members) == 1:
        return replace(base, kind="membership", paths=(members[0],))
    found = [path for loop in loops for path in _walked(catalog, loop, sql)]
    # Any table fits a GenericForeignKey, so the SQL proves nothing: only a call
    # site that names it (django-oscar's thumbnail key-value lookups per image
    # were "attribute_values.value_entity").
    found = [p for p in found if p[-1].relation.kind != "gfk" or _names(p[-1]) & read]
    # A path through a dynamic / write-only relationship cannot be eager-loaded: a
    # fix along it would raise, and with another path left it is not the one.
    found = [p for p in found if not any(s.relation.lazy in NOT_EAGER for s in p[:-1])] or found
    if earlier:
        joined_rows = outer.tables if outer else frozenset()
        # A nested path none of whose middle rows the request loaded is a guess
        # (django-oscar's products read back one by one from a search index were
        # "Category.productcategory_set.product or 9 more"): the query is a lookup.
        found = [
            p for p in found if len(p) == 1 or _proven(catalog, p, earlier, joined_rows)
        ]
    # A multi-table subclass's query joins its parents' tables for its own columns
    # (a BreadPage row is wagtailcore_page + breads_breadpage): no relation's rows.
    inherited = {
        _name(catalog.models[key].table)
        for model in loops
        for key in model.parents
        if key in catalog.models
    }
    joined = outer.tables - {outer.table} - inherited if outer else frozenset()
    picked, candidates = _choose(found, read, joined, loaded | (outer.tables if outer else set()))
    named = any(_names(p[-1]) & read for p in found)
    explicit = not named and not sql.aggregate and _queries(source, catalog.by_table(sql.table))
    if (picked or candidates) and not explicit:
        loop = (picked or candidates)[0][0].owner
        if all(p[0].owner is loop for p in (*picked, *candidates)):
            base = replace(base, loop=loop)
        kind = sql.aggregate or "relation"
        return replace(base, kind=kind, paths=picked, candidates=candidates)
    return _lookup(base, catalog, sql)


def _lookup(base: Resolution, catalog: Catalog, sql: Shape) -> Resolution:
    """A query per row that no relation of the loop's model explains."""
    targets = catalog.by_table(sql.table)
    if len(targets) != 1 or not sql.filters:
        return base
    target = targets[0]
    columns = {c.lower(): attr for c, attr in target.fields.items()}
    if sql.ranged:
        # Wagtail's menu asks each page's children (depth = ? AND path BETWEEN ? AND ?):
        # batching by depth alone would load the wrong rows.
        if columns.keys() >= _TREE and sql.filters == ((sql.table, "depth"),):
            return replace(base, kind="tree_children", target=target, aggregate=sql.aggregate)
        return base
    table, column = sql.filters[0]
    if table != sql.table or column not in columns:
        return base
    pk = {c.lower() for c in target.pk}
    kind = sql.aggregate or "lookup"
    return replace(
        base,
        kind=kind,
        target=target,
        fields=(columns[column],),
        column=column,
        # A filter on a non-unique column without LIMIT (a foreign key) returns several
        # rows per key; .get() and .first() one.
        many=(column not in pk or len(pk) > 1) and not sql.limited,
        first_by=_first_by(sql, columns, pk, column),
    )


# A django-treebeard materialised-path node (Wagtail's Page): get_children() is
# depth = ? AND path BETWEEN ? AND ?.
_TREE = frozenset({"path", "depth", "numchild"})


def _first_by(
    sql: Shape, columns: dict[str, str], pk: set[str], column: str
) -> tuple[tuple[str, bool], ...]:
    if column in pk or not sql.limited or not sql.order:
        return ()
    if all(name in pk for name, _ in sql.order):
        return ()  # Django's .first() orders by pk when nothing else asks: a plain lookup
    if any(name not in columns for name, _ in sql.order):
        return ()
    return tuple((columns[name], descending) for name, descending in sql.order)

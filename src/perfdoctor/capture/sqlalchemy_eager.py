"""SQLAlchemy (1.4, 2.x): which ``joinedload``/``selectinload``/``subqueryload`` options
a request's ORM statements carried, and whether it read the relationships.

One ``do_orm_execute`` listener on ``Session`` sees each ORM SELECT before it
runs; a statement without loader options costs one attribute read more.  Each
first-level eager option (``joinedload(Article.author)``, not the
``.selectinload(Author.x)`` chained after it) becomes a record; the relation
loader's own SELECT (selectin, subquery) gets a marker, so its time is known.

Reads: SQLAlchemy has no event for reading an attribute, and patching
``InstrumentedAttribute.__get__`` would tax every column read of every model.
Instead the class of the one relationship attribute an eager option named
(``Article.author``, and its subclasses' copies) is swapped for a subclass whose
``__get__`` notes the read, from then on.  A read of the relation on any
instance in the same request counts (per relation, not per row: instances are
not tracked, because SQLAlchemy does not report rows already in the identity
map as loaded).  A relationship configured eager in the model (``lazy="joined"``)
is not an option on the statement, and is not judged.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

from perfdoctor.capture import context, eager

_MARK = "__perfdoctor_eager__"
# loader strategy -> the option a user writes for it
EAGER = {"joined": "joinedload", "selectin": "selectinload", "subquery": "subqueryload"}
_watching: type | None = None


def _watching_class(base: type) -> type:
    global _watching
    if _watching is None:
        original = base.__get__  # type: ignore[attr-defined]

        def __get__(self: Any, instance: Any, owner: Any) -> Any:
            if instance is not None and eager.attributes:
                eager.read_attribute(self)
            return original(self, instance, owner)

        # An empty __slots__ keeps the layout, so the class of an existing
        # attribute can be swapped; inherit_cache keeps its SQL cache key.
        _watching = type(
            base.__name__,
            (base,),
            {"__slots__": (), "__get__": __get__, "inherit_cache": True, _MARK: True},
        )
    return _watching


def _watch(mapper: Any, key: str, base: type) -> list[Any]:
    """The attributes reading ``key`` on ``mapper`` and its subclasses, now watched."""
    watched = []
    for sub in mapper.self_and_descendants:
        attr = sub.class_manager.get(key)
        if attr is None:
            continue
        if type(attr) is base:
            try:
                attr.__class__ = _watching_class(base)
            except TypeError:
                continue
        if getattr(type(attr), _MARK, False):
            watched.append(attr)
    return watched


def _name(mapper: Any, key: str) -> str:
    return f"{mapper.class_.__name__}.{key}"


def _first_level(options: Any) -> Iterator[tuple[Any, Any, str]]:
    """(mapper, relationship, strategy) of each first-level eager option.

    Only ``joinedload(Article.author)``, not the ``.selectinload(Author.x)``
    chained after it: a path of (mapper, relationship, target mapper).
    """
    for option in options:
        context = getattr(option, "context", None)
        if isinstance(context, tuple):  # 2.x: Load with its _LoadElements
            for element in context:
                strategy = dict(element.strategy or ()).get("lazy")
                path: tuple[Any, ...] = element.path.natural_path
                if strategy in EAGER and len(path) == 3:
                    yield path[0], path[1], strategy
            continue
        # 1.4: an _UnboundLoad, one bound per link of the chain, its path the
        # attributes named (strings and bound Load objects are not judged).
        for bound in getattr(option, "_to_bind", None) or ():
            strategy = dict(bound.strategy or ()).get("lazy")
            attrs: tuple[Any, ...] = tuple(bound.path or ())
            if strategy in EAGER and len(attrs) == 1 and hasattr(attrs[0], "property"):
                parent = attrs[0].parent
                yield getattr(parent, "mapper", parent), attrs[0].property, strategy


def _on_execute(state: Any, base: type) -> None:
    trace = context.current()
    if trace is None or not state.is_select:
        return
    if state.is_relationship_load:
        path = state.loader_strategy_path
        natural: tuple[Any, ...] = getattr(path, "natural_path", ()) if path is not None else ()
        if len(natural) >= 2 and hasattr(natural[-1], "key"):
            prop = natural[-1]
            now = context.perf_counter()
            context.record_span(
                trace,
                eager.QUERY_KIND,
                now,
                now,
                {"relation": _name(prop.parent, prop.key)},
                skip=1,
            )
        return
    options = getattr(state.statement, "_with_options", ())
    if not options:
        return
    for mapper, prop, strategy in _first_level(options):
        relation = _name(mapper, prop.key)
        attrs = _watch(mapper, prop.key, base)
        if not attrs or not eager.room(0):
            continue
        now = context.perf_counter()
        record = eager.record(
            trace,
            {
                "orm": "sqlalchemy",
                "method": EAGER[strategy],
                "relation": relation,
                "written": f"{EAGER[strategy]}({relation})",
                "model": mapper.class_.__name__,
                "cost": "join" if strategy == "joined" else "query",
            },
            now,
            now,
        )
        for attr in attrs:
            eager.watch_attribute(trace, attr, record)


def install(orm: ModuleType) -> None:
    """Listen to every ``Session``'s ORM executions (once)."""
    from sqlalchemy import event
    from sqlalchemy.orm.attributes import InstrumentedAttribute

    session = orm.Session
    if getattr(session, _MARK, False):
        return
    if not hasattr(orm, "ORMExecuteState"):
        # SQLAlchemy before 1.4 has no do_orm_execute event: nothing to judge
        # eager loads by, and nothing to say about it in the app's output.
        return

    def on_execute(state: Any) -> None:
        if not context.state.enabled:
            return
        try:
            _on_execute(state, InstrumentedAttribute)
        except Exception:  # never break the app's query
            pass

    event.listen(session, "do_orm_execute", on_execute)
    setattr(session, _MARK, True)

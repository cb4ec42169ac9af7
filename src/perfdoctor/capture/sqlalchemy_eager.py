"""SQLAlchemy (1.4, 2.x): which ``joinedload``/``selectinload``/``subqueryload`` options
a request's ORM statements carried, and whether it read the relationships.

Each ORM SELECT is seen right before it runs (the ORM's ``orm_pre_session_exec``
step, or a ``do_orm_execute`` listener where that step is missing); a statement
without loader options costs two attribute reads more.  Each
first-level eager option (``joinedload(Article.author)``, not the
``.selectinload(Author.x)`` chained after it) becomes a record; a relationship
load's own SELECT (lazy, selectin, subquery) carries the relation's name in its
db span's attributes (``relation``), so a loader's time is known.

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

import inspect
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


# relationship property -> the attributes its loads' db spans carry (shared: read only)
_relations: dict[Any, dict[str, str]] = {}
_MAX_RELATIONS = 4096


def _relation_attrs(prop: Any) -> dict[str, str]:
    attrs = _relations.get(prop)
    if attrs is None:
        if len(_relations) >= _MAX_RELATIONS:
            _relations.clear()
        attrs = _relations[prop] = {"relation": _name(prop.parent, prop.key)}
    return attrs


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


# A relationship load's path -> the attributes its db span carries, by the path's
# id: the path is held, so that the id is not reused while remembered.
_paths: dict[int, tuple[Any, dict[str, str]]] = {}
_MAX_PATHS = 4096


def _on_select(trace: context.ActiveTrace, statement: Any, base: type) -> None:
    """An ORM SELECT about to be executed: a relationship load's, or one to judge."""
    path = getattr(getattr(statement, "_compile_options", None), "_current_path", None)
    if path is not None and not path.is_root:
        natural: tuple[Any, ...] = getattr(path, "natural_path", ())
        # Named on the load's own db span, the trace's next one: a span of its
        # own, with a call-site walk through the loader's frames, cost more than
        # the query's capture (every lazy load of an N+1 comes here).
        if len(natural) >= 2 and hasattr(natural[-1], "key"):
            attrs = _relation_attrs(natural[-1])
            # A lazy loader's statement carries the same path object on every load
            # of its relationship (SQLAlchemy keeps its paths): read once.
            if len(_paths) >= _MAX_PATHS:
                _paths.clear()
            _paths[id(path)] = (path, attrs)
            trace.next_db_attrs = attrs
        return
    options = getattr(statement, "_with_options", ())
    if options:
        _judge(trace, options, base)


def _on_execute(state: Any, base: type) -> None:
    """The ``do_orm_execute`` listener's work, where :func:`_wrap_pre_exec` cannot hook.

    It runs before autoflush, so a relationship load is a marker span (the loader's
    query is the next db span after the flush's), as traces had it before.
    """
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
    if options:
        _judge(trace, options, base)


def _judge(trace: context.ActiveTrace, options: Any, base: type) -> None:
    """Record each first-level eager option and watch its relation for reads."""
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


def _wrap_pre_exec(base: type) -> bool:
    """See each ORM SELECT through its compile state's ``orm_pre_session_exec``.

    SQLAlchemy (1.4 to 2.1) calls it once per ORM execution, right before the
    statement runs (after autoflush).  A ``do_orm_execute`` listener would make
    every Session build an ``ORMExecuteState`` and, from 2.0, run this step twice
    per execution, whether a trace is open or not: several µs per query, more
    than the capture of the query itself.  False when this SQLAlchemy has no such
    step (then the listener is used).
    """
    try:
        from sqlalchemy.sql.base import CompileState

        # The ORM's select plugin class (an ORM compile state), not the base typed here.
        select_state: Any = CompileState.plugins[("orm", "select")]
        original = select_state.orm_pre_session_exec.__func__
    except Exception:
        return False
    if getattr(original, _MARK, False):
        return True
    _current = context._current
    settings = context.state
    if _parameters(original) == _PRE_EXEC_PARAMETERS:
        # The signature of SQLAlchemy 2.x, whose calls pass the six arguments by
        # position: no packing and unpacking of them on every ORM execution.
        def orm_pre_session_exec_fast(
            cls: Any,
            session: Any,
            statement: Any,
            params: Any,
            execution_options: Any,
            bind_arguments: Any,
            is_pre_event: Any,
        ) -> Any:
            result = original(
                cls, session, statement, params, execution_options, bind_arguments, is_pre_event
            )
            # True for the pass ahead of an app's own listeners, which runs nothing.
            if settings.enabled and not is_pre_event:
                trace = _current.get()
                if trace is None and settings.process_trace_name is not None:
                    trace = context.current()
                if trace is not None and trace.detail:
                    try:
                        statement = result[0]
                        try:
                            path = statement._compile_options._current_path
                        except AttributeError:
                            path = None
                        known = _paths.get(id(path))
                        if known is not None and known[0] is path:
                            # A relationship's load seen before (every lazy load of an
                            # N+1): _on_select's answer, without the call.
                            trace.next_db_attrs = known[1]
                        else:
                            _on_select(trace, statement, base)
                    except Exception:  # never break the app's query
                        pass
            return result

        setattr(orm_pre_session_exec_fast, _MARK, True)
        select_state.orm_pre_session_exec = classmethod(orm_pre_session_exec_fast)
        return True

    def orm_pre_session_exec(cls: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(cls, *args, **kwargs)
        # The last argument is true for a call that does not run the statement
        # (2.x: the pass ahead of an app's own listeners; 1.4: a listener's re-invoke).
        if settings.enabled and not (args and args[-1]) and not kwargs:
            trace = _current.get()
            if trace is None and settings.process_trace_name is not None:
                trace = context.current()
            if trace is not None and trace.detail:
                try:
                    _on_select(trace, result[0], base)
                except Exception:  # never break the app's query
                    pass
        return result

    setattr(orm_pre_session_exec, _MARK, True)
    select_state.orm_pre_session_exec = classmethod(orm_pre_session_exec)
    return True


_PRE_EXEC_PARAMETERS = (
    "cls", "session", "statement", "params", "execution_options", "bind_arguments", "is_pre_event",
)


def _parameters(function: Any) -> tuple[str, ...] | None:
    """The names of ``function``'s parameters, if all are positional and required."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is not p.POSITIONAL_OR_KEYWORD or p.default is not p.empty for p in parameters):
        return None
    return tuple(p.name for p in parameters)


def install(orm: ModuleType) -> None:
    """Watch every ``Session``'s ORM SELECTs (once)."""
    from sqlalchemy import event
    from sqlalchemy.orm.attributes import InstrumentedAttribute

    session = orm.Session
    if getattr(session, _MARK, False):
        return
    if not hasattr(orm, "ORMExecuteState"):
        # SQLAlchemy before 1.4 has no do_orm_execute event: nothing to judge
        # eager loads by, and nothing to say about it in the app's output.
        return
    if _wrap_pre_exec(InstrumentedAttribute):
        setattr(session, _MARK, True)
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

"""Django: which ``select_related``/``prefetch_related`` loads a request asked for, and read.

After nplusone's idea (hook the related descriptors and the prefetch), kept
cheap for code that eager-loads nothing:

* ``QuerySet._fetch_all`` is wrapped: a queryset evaluated with a
  ``select_related("a", ...)`` notes each row under the descriptor of ``a``;
  evaluating a queryset costs one context-variable read more.
* ``prefetch_one_level`` is wrapped: the first level of each lookup notes the
  prefetched collection of each row (or the row, for a single-valued
  relation), and the time the prefetch took, its query included.
* Only a descriptor some request eager-loaded is watched: its class is swapped
  for a subclass whose ``__get__`` looks the row up (``_watching``), so reading
  any other relation costs nothing more.  A prefetched collection is read when
  its cached queryset is iterated, counted, tested or indexed.

Only the first level of a path is judged (``author`` of ``author__user``):
a deeper level unused behind a used one is not reported.  A ``Prefetch`` with
``to_attr`` (a plain list attribute) and a bare ``select_related()`` are not
judged.  Reads Django makes itself while prefetching the next level of a
lookup do not count.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture import context, eager

_MARK = "__perfdoctor_original__"
_WATCHING = "__perfdoctor_watching__"
COLLECTION = "collection"

# Django is prefetching: its own reads of the caches it just filled are not the app's.
_prefetching: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "perfdoctor_prefetching", default=False
)
_watching_classes: dict[type, type] = {}


def _label(model: Any) -> str:
    meta = model._meta
    return f"{meta.app_label}.{meta.object_name}"


def _watched(descriptor: Any) -> bool:
    """Swap ``descriptor``'s class for one that notes reads; False if it cannot be."""
    cls = type(descriptor)
    if getattr(cls, _WATCHING, False):
        return True
    sub = _watching_classes.get(cls)
    if sub is None:
        original: Callable[..., Any] = cls.__get__

        def __get__(self: Any, instance: Any, cls_: Any = None) -> Any:
            if instance is not None and eager.objects:
                eager.read(id(instance), self)
            return original(self, instance, cls_)

        sub = type(
            cls.__name__,
            (cls,),
            {"__get__": __get__, _WATCHING: True, "__module__": cls.__module__},
        )
        sub.__qualname__ = cls.__qualname__
        _watching_classes[cls] = sub
    try:
        descriptor.__class__ = sub
    except TypeError:
        return False
    return True


def _descriptor(model: Any, name: str, single_types: tuple[type, ...]) -> Any:
    """The descriptor reading relation ``name`` of ``model`` (forward or reverse one)."""
    try:
        field = model._meta.get_field(name)
    except Exception:
        return None
    attr = field.get_accessor_name() if field.auto_created and not field.concrete else name
    descriptor = model.__dict__.get(attr)
    if descriptor is None:
        for klass in model.__mro__:
            if attr in klass.__dict__:
                descriptor = klass.__dict__[attr]
                break
    return descriptor if isinstance(descriptor, single_types) else None


def _paths_under(prefix: str, tree: Any) -> list[str]:
    found: list[str] = []
    if isinstance(tree, dict):
        for key, sub in tree.items():
            path = f"{prefix}__{key}"
            found.append(path)
            found.extend(_paths_under(path, sub))
    return found


def _select_related(
    queryset: Any, started: float, single_types: tuple[type, ...], model_iterable: type
) -> None:
    trace = context.current()
    rows = queryset._result_cache
    paths = queryset.query.select_related
    if trace is None or not rows or not isinstance(paths, dict) or not paths:
        return
    if queryset._iterable_class is not model_iterable or not eager.room(len(rows)):
        return
    ended = context.perf_counter()
    entry: dict[object, dict[str, Any]] = {}
    for name in paths:
        descriptor = _descriptor(queryset.model, name, single_types)
        if descriptor is None or not _watched(descriptor):
            continue
        written = f'select_related("{name}")'
        # select_related("a", "a__b") joins a for a__b too: unused, the whole
        # branch goes, so the fix names every path under it.
        nested = _paths_under(name, paths[name])
        entry[descriptor] = eager.record(
            trace,
            {
                "orm": "django",
                "method": "select_related",
                "relation": name,
                "written": written,
                "nested": nested,
                "model": _label(queryset.model),
                "rows": len(rows),
                "cost": "join",
            },
            started,
            ended,
        )
    if entry:
        eager.watch(trace, [id(row) for row in rows], entry)


def _prefetched(
    instances: list[Any],
    lookup: Any,
    level: int,
    before: tuple[set[str], set[str]],
    started: float,
    related: int,
    single_types: tuple[type, ...],
) -> None:
    trace = context.current()
    if trace is None or level != 0 or not instances or getattr(lookup, "to_attr", None):
        return
    first = instances[0]
    many = set(getattr(first, "_prefetched_objects_cache", {})) - before[0]
    single = set(first._state.fields_cache) - before[1]
    to_attr = lookup.get_current_to_attr(level)[0]
    slot: object
    if len(many) == 1:
        cache_name = next(iter(many))
        keys = [id(obj._prefetched_objects_cache.get(cache_name)) for obj in instances]
        slot = COLLECTION
    elif single and not many:
        slot = _descriptor(type(first), to_attr, single_types)
        if slot is None or not _watched(slot):
            return
        keys = [id(obj) for obj in instances]
    else:
        return
    if not eager.room(len(keys)):
        return
    through = lookup.prefetch_through
    written = (
        f'Prefetch("{through}", queryset=...)'
        if lookup.queryset is not None
        else f'prefetch_related("{through}")'
    )
    record = eager.record(
        trace,
        {
            "orm": "django",
            "method": "prefetch_related",
            "relation": through,
            "written": written,
            "model": _label(type(first)),
            "rows": len(instances),
            "related_rows": related,
            "cost": "query",
        },
        started,
        context.perf_counter(),
    )
    eager.watch(trace, keys, {slot: record})


def _read_collection(queryset: Any) -> None:
    if queryset._result_cache is not None and not _prefetching.get():
        eager.read(id(queryset), COLLECTION)


def install(module: ModuleType) -> None:
    """Patch ``django.db.models.query`` (once)."""
    query: Any = module
    queryset_cls = query.QuerySet
    if hasattr(queryset_cls.__dict__["_fetch_all"], _MARK):
        return
    from django.db.models.fields.related_descriptors import (
        ForwardManyToOneDescriptor,
        ReverseOneToOneDescriptor,
    )

    single_types = (ForwardManyToOneDescriptor, ReverseOneToOneDescriptor)
    model_iterable = query.ModelIterable
    fetch_all = queryset_cls.__dict__["_fetch_all"]
    # Read by every query a queryset runs: no module attribute lookups there.
    settings = context.state
    perf_counter = context.perf_counter

    def _fetch_all(self: Any) -> None:
        if self._result_cache is not None:
            if eager.objects:
                _read_collection(self)
            return fetch_all(self)  # type: ignore[no-any-return]
        if not settings.enabled:
            return fetch_all(self)  # type: ignore[no-any-return]
        # Timed only for a select_related() (most querysets have none): read from
        # the query itself, as the ``query`` property would apply a deferred filter.
        try:
            joined = self._query.select_related
        except AttributeError:  # a QuerySet with no _query behind its query
            joined = True
        if not joined:
            return fetch_all(self)  # type: ignore[no-any-return]
        started = perf_counter()
        fetch_all(self)
        try:
            if self.query.select_related:
                _select_related(self, started, single_types, model_iterable)
        except Exception:  # never break the app's query
            pass
        return None

    setattr(_fetch_all, _MARK, fetch_all)
    queryset_cls._fetch_all = _fetch_all

    # Reads of a prefetched collection that do not go through _fetch_all.
    for name in ("__getitem__", "count", "exists"):
        _wrap_read(queryset_cls, name)

    one_level = query.prefetch_one_level

    def prefetch_one_level(instances: Any, prefetcher: Any, lookup: Any, level: int) -> Any:
        if level != 0 or not context.state.enabled or not instances:
            return one_level(instances, prefetcher, lookup, level)
        try:
            first = instances[0]
            before = (
                set(getattr(first, "_prefetched_objects_cache", {})),
                set(first._state.fields_cache),
            )
        except Exception:
            return one_level(instances, prefetcher, lookup, level)
        started = context.perf_counter()
        result = one_level(instances, prefetcher, lookup, level)
        try:
            _prefetched(instances, lookup, level, before, started, len(result[0]), single_types)
        except Exception:
            pass
        return result

    setattr(prefetch_one_level, _MARK, one_level)
    query.prefetch_one_level = prefetch_one_level

    related_objects = query.prefetch_related_objects

    def prefetch_related_objects(*args: Any, **kwargs: Any) -> Any:
        token = _prefetching.set(True)
        try:
            return related_objects(*args, **kwargs)
        finally:
            _prefetching.reset(token)

    setattr(prefetch_related_objects, _MARK, related_objects)
    query.prefetch_related_objects = prefetch_related_objects


def _wrap_read(cls: type, name: str) -> None:
    original = cls.__dict__[name]

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if eager.objects:
            _read_collection(self)
        return original(self, *args, **kwargs)

    wrapper.__name__ = original.__name__
    wrapper.__qualname__ = original.__qualname__
    wrapper.__doc__ = original.__doc__
    setattr(wrapper, _MARK, original)
    setattr(cls, name, wrapper)

"""Django's cache framework: each call on a cache backend as one ``cache`` span.

Backends are created by ``CacheHandler.create_connection`` (``caches[alias]``
and ``django.core.cache.cache``); the class of each backend it creates is
wrapped once, so every backend is covered — locmem, redis, database, file,
memcached and third-party ones — without a settings change.

One user call is one span: methods a backend calls on itself (``get_or_set``
calls ``get`` and ``add``) and the queries or redis commands it runs are not
recorded again, except the value function a ``get_or_set`` computes, which is
the user's own work.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture import context
from perfdoctor.capture.cache_keys import cache_operation, key_digest, key_pattern, pickled_digest

SYSTEM = "django-cache"
_MARK = "__perfdoctor_original__"
_NOTHING: Any = object()

# method -> its parameters after self, as BaseCache declares them.
_PARAMETERS: dict[str, tuple[str, ...]] = {
    "get": ("key", "default", "version"),
    "set": ("key", "value", "timeout", "version"),
    "add": ("key", "value", "timeout", "version"),
    "get_or_set": ("key", "default", "timeout", "version"),
    "touch": ("key", "timeout", "version"),
    "delete": ("key", "version"),
    "has_key": ("key", "version"),
    "incr": ("key", "delta", "version"),
    "decr": ("key", "delta", "version"),
    "get_many": ("keys", "version"),
    "set_many": ("data", "timeout", "version"),
    "delete_many": ("keys", "version"),
    "clear": (),
}
_ASYNC = {f"a{name}": name for name in _PARAMETERS}
# Asked first by every call: a backend's get_many calls its own get once per key.
_current_operation = cache_operation.get
_current_trace = context._current.get


class _Django:
    """Names from django.core.cache, bound when it is imported."""

    default_timeout: Any = _NOTHING


def _bind(op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    bound = dict(zip(_PARAMETERS[op], args))
    bound.update(kwargs)
    return bound


def _ttl(backend: Any, bound: dict[str, Any]) -> float | None:
    """The expiry in effect: the timeout given, else the backend's default (None: never)."""
    timeout = bound.get("timeout", _Django.default_timeout)
    if timeout is _Django.default_timeout:
        timeout = getattr(backend, "default_timeout", None)
    return None if timeout is None else float(timeout)


def _key_facts(backend: Any, key: Any, version: Any, attrs: dict[str, Any]) -> None:
    attrs["key"] = key_pattern(key)
    try:
        # The key as stored (prefix and version included): two caches, or two
        # versions of one key, are different entries.
        attrs["key_digest"] = key_digest(backend.make_key(key, version=version))
    except Exception:
        attrs["key_digest"] = key_digest(key)


def operation_attrs(
    backend: Any, op: str, bound: dict[str, Any], result: Any, inner: list[str], computed: bool
) -> dict[str, Any]:
    """The span attributes of one cache call (no key or value is kept)."""
    attrs: dict[str, Any] = {"system": SYSTEM, "op": op, "backend": type(backend).__name__}
    version = bound.get("version")
    if "key" in bound:
        _key_facts(backend, bound["key"], version, attrs)
    elif op in ("get_many", "delete_many", "set_many"):
        keys = list(bound.get("data" if op == "set_many" else "keys") or ())
        attrs["keys"] = len(keys)
        if keys:
            _key_facts(backend, keys[0], version, attrs)
    if op in ("set", "add", "set_many", "touch"):
        attrs["ttl"] = _ttl(backend, bound)
    if result is _NOTHING:
        return attrs
    if op == "get":
        hit = result is not bound.get("default")
        attrs["hit"] = hit
        if hit:
            attrs["value_digest"] = pickled_digest(result)
    elif op == "set":
        attrs["value_digest"] = pickled_digest(bound.get("value"))
    elif op == "add":
        attrs["written"] = bool(result)
        if result:
            attrs["value_digest"] = pickled_digest(bound.get("value"))
    elif op == "get_or_set":
        written = computed or "add" in inner or "set" in inner
        attrs["hit"] = not written
        attrs["written"] = written
        if written:
            attrs["ttl"] = _ttl(backend, bound)
        attrs["value_digest"] = pickled_digest(result)
    elif op == "get_many" and isinstance(result, dict):
        attrs["hits"] = len(result)
        attrs["hit"] = len(result) == attrs.get("keys", 0)
    elif op == "has_key":
        attrs["hit"] = bool(result)
    return attrs


class _Call:
    """One user-level cache call in progress: inner calls and queries are its own."""

    __slots__ = ("computed", "inner", "muted", "operation", "started")

    def __init__(self) -> None:
        self.inner: list[str] = []
        self.computed = False
        self.operation = cache_operation.set(self.inner)
        self.muted = context._muted.set(True)
        self.started = context.perf_counter()

    def end(self) -> None:
        try:
            context._muted.reset(self.muted)
        finally:
            cache_operation.reset(self.operation)

    def user_function(self, default: Any) -> Any:
        """``get_or_set``'s value function, run as the user's code: recorded."""
        if not callable(default):
            return default

        @functools.wraps(default)
        def compute(*args: Any, **kwargs: Any) -> Any:
            self.computed = True
            muted = context._muted.set(False)
            operation = cache_operation.set(None)
            try:
                return default(*args, **kwargs)
            finally:
                cache_operation.reset(operation)
                context._muted.reset(muted)

        return compute


def _finish(
    trace: context.ActiveTrace,
    call: _Call,
    backend: Any,
    op: str,
    call_args: tuple[tuple[Any, ...], dict[str, Any]],
    result: Any,
    error: BaseException | None,
    blocking: bool,
) -> None:
    try:
        call.end()
    except Exception:
        pass
    try:
        ended = context.perf_counter()
        bound = _bind(op, *call_args)
        attrs = operation_attrs(backend, op, bound, result, call.inner, call.computed)
        if error is not None:
            attrs["error"] = type(error).__name__
        context.record_span(trace, "cache", call.started, ended, attrs, blocking=blocking, skip=1)
    except Exception:  # never break the host app
        pass


def _start(op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
    """The trace and call of an operation to record, or None.  Never raises."""
    try:
        return _begin(op, args, kwargs)
    except Exception:  # never break the host app: the operation runs untraced
        return None


def _begin(op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
    """The trace and call of an operation to record, or None (not traced)."""
    trace = context.current()
    if trace is None or context._muted.get():
        return None
    call = _Call()
    if op == "get_or_set":
        try:
            bound = _bind(op, args, kwargs)
            wrapped = call.user_function(bound.get("default"))
            if wrapped is not bound.get("default"):
                if len(args) > 1:
                    args = (args[0], wrapped, *args[2:])
                else:
                    kwargs = {**kwargs, "default": wrapped}
        except Exception:
            call.end()
            return None
    return trace, call, args, kwargs


def _wrap_sync(cls: type, op: str) -> None:
    original = cls.__dict__.get(op)
    if original is None or hasattr(original, _MARK) or not callable(original):
        return

    @functools.wraps(original)
    def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        inner = _current_operation()
        if inner is not None:  # called by the backend itself, inside a recorded call
            inner.append(op)
            return original(self, *args, **kwargs)
        open_trace = _current_trace()
        if open_trace is not None and not open_trace.detail:
            # A request that records nothing (``--sample-tail summary``).
            return original(self, *args, **kwargs)
        started = _start(op, args, kwargs)
        if started is None:
            return original(self, *args, **kwargs)
        trace, call, args, kwargs = started
        result, error = _NOTHING, None
        try:
            result = original(self, *args, **kwargs)
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            _finish(trace, call, self, op, (args, kwargs), result, error, True)

    setattr(traced, _MARK, original)
    setattr(cls, op, traced)


def _wrap_async(cls: type, name: str, op: str) -> None:
    original = cls.__dict__.get(name)
    if original is None or hasattr(original, _MARK) or not callable(original):
        return

    @functools.wraps(original)
    async def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        inner = _current_operation()
        if inner is not None:  # called by the backend itself, inside a recorded call
            inner.append(op)
            return await original(self, *args, **kwargs)
        started = _start(op, args, kwargs)
        if started is None:
            return await original(self, *args, **kwargs)
        trace, call, args, kwargs = started
        result, error = _NOTHING, None
        try:
            result = await original(self, *args, **kwargs)
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            _finish(trace, call, self, op, (args, kwargs), result, error, False)

    setattr(traced, _MARK, original)
    setattr(cls, name, traced)


def instrument_backend_class(backend_cls: type) -> None:
    """Wrap every cache method ``backend_cls`` has, wherever in its bases it is defined."""
    for cls in backend_cls.__mro__:
        if cls is object:
            continue
        for op in _PARAMETERS:
            _wrap_sync(cls, op)
        for name, op in _ASYNC.items():
            _wrap_async(cls, name, op)


def install(cache_module: ModuleType) -> None:
    """Wrap ``django.core.cache.CacheHandler.create_connection``."""
    from django.core.cache.backends import base

    _Django.default_timeout = base.DEFAULT_TIMEOUT
    handler = cache_module.CacheHandler
    original: Callable[..., Any] = handler.__dict__["create_connection"]
    if hasattr(original, _MARK):
        return

    @functools.wraps(original)
    def create_connection(self: Any, alias: str) -> Any:
        backend = original(self, alias)
        try:
            instrument_backend_class(type(backend))
        except Exception:
            pass
        return backend

    setattr(create_connection, _MARK, original)
    handler.create_connection = create_connection
    # Backends made before capture started.
    try:
        for backend in cache_module.caches.all(initialized_only=True):
            instrument_backend_class(type(backend))
    except Exception:
        pass

"""redis-py: every command (sync and asyncio) and every pipeline as a ``cache`` span.

``Redis.execute_command`` is what every command method (``get``, ``set``,
``hgetall``...) ends in, so wrapping it on the class covers them all; pipelines
queue commands and send them in ``Pipeline.execute``, recorded as one span with
op ``pipeline``.  A command issued by Django's cache on the user's behalf is
left to the Django integration, which records the cache operation itself.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture import context
from perfdoctor.capture.cache_keys import (
    cache_operation,
    key_digest,
    key_pattern,
    redis_value_digest,
)

SYSTEM = "redis"
_MARK = "__perfdoctor_original__"
_NOTHING: Any = object()

# Commands that read one value: a hit is a reply other than None.
_VALUE_READS = frozenset({"get", "getdel", "getex", "hget", "getrange", "lindex"})
# Reads whose reply is a collection: a hit is a non-empty reply.
_COLLECTION_READS = frozenset(
    {"hgetall", "hmget", "lrange", "smembers", "zrange", "zrangebyscore", "hkeys", "hvals"}
)
# Commands that take no key (or whose first argument is not one).
_KEYLESS = frozenset(
    {
        "ping",
        "info",
        "select",
        "auth",
        "hello",
        "client",
        "config",
        "dbsize",
        "echo",
        "flushall",
        "flushdb",
        "time",
        "multi",
        "exec",
        "discard",
        "unwatch",
        "script",
        "scan",
        "keys",
        "randomkey",
        "publish",
        "subscribe",
        "psubscribe",
        "command",
        "memory",
        "slowlog",
        "lastsave",
        "role",
        "save",
        "bgsave",
        "wait",
        "quit",
        "reset",
        "eval",
        "evalsha",
        "function",
        "fcall",
        "module",
        "debug",
        "swapdb",
        "readonly",
    }
)
_EXPIRES = {"expire": 1.0, "pexpire": 0.001}
_EXPIRES_AT = {"expireat": 1.0, "pexpireat": 0.001}


def _name(command: Any) -> str:
    if isinstance(command, bytes):
        command = command.decode("ascii", "replace")
    return str(command).lower()


def _number(value: Any) -> float | None:
    try:
        return float(value.decode() if isinstance(value, bytes) else value)
    except (TypeError, ValueError, AttributeError):
        return None


def _set_ttl(args: tuple[Any, ...], attrs: dict[str, Any]) -> None:
    """The expiry of ``SET key value [EX s|PX ms|EXAT t|PXAT t|KEEPTTL] ...``."""
    ttl: float | None = None
    options = args[3:]
    for index, option in enumerate(options):
        word = _name(option)
        following = options[index + 1] if index + 1 < len(options) else None
        if word == "ex":
            ttl = _number(following)
        elif word == "px":
            number = _number(following)
            ttl = None if number is None else number / 1000.0
        elif word in ("exat", "pxat"):
            number = _number(following)
            if number is not None:
                ttl = (number if word == "exat" else number / 1000.0) - time.time()
        elif word == "keepttl":
            attrs["ttl_kept"] = True
    attrs["ttl"] = ttl


def command_attrs(args: tuple[Any, ...], result: Any) -> dict[str, Any]:
    """The span attributes of one command and its reply (no key or value is kept)."""
    op = _name(args[0]) if args else ""
    if " " in op:  # "CLIENT SETNAME" and other two-word commands
        op = op.split(" ", 1)[0]
    attrs: dict[str, Any] = {"system": SYSTEM, "op": op}
    if op in _KEYLESS or len(args) < 2:
        return attrs
    key = args[1]
    attrs["key"] = key_pattern(key)
    attrs["key_digest"] = key_digest(key)
    if op == "set":
        _set_ttl(args, attrs)
        attrs["value_digest"] = redis_value_digest(args[2]) if len(args) > 2 else None
    elif op in ("setex", "psetex") and len(args) > 3:
        seconds = _number(args[2])
        scale = 1.0 if op == "setex" else 0.001
        attrs["ttl"] = None if seconds is None else seconds * scale
        attrs["value_digest"] = redis_value_digest(args[3])
    elif op in ("setnx", "getset") and len(args) > 2:
        attrs["ttl"] = None
        attrs["value_digest"] = redis_value_digest(args[2])
    elif op in ("mset", "msetnx"):
        attrs["ttl"] = None
        attrs["keys"] = (len(args) - 1) // 2
    elif op in _EXPIRES and len(args) > 2:
        seconds = _number(args[2])
        attrs["ttl"] = None if seconds is None else seconds * _EXPIRES[op]
    elif op in _EXPIRES_AT and len(args) > 2:
        at = _number(args[2])
        attrs["ttl"] = None if at is None else at * _EXPIRES_AT[op] - time.time()
    elif op == "persist":
        attrs["ttl"] = None
    elif op in ("mget", "exists", "del", "unlink", "touch"):
        attrs["keys"] = len(args) - 1
    if result is _NOTHING:
        return attrs
    if op in _VALUE_READS:
        attrs["hit"] = result is not None
        if result is not None and op != "hget":
            attrs["value_digest"] = redis_value_digest(result)
    elif op in _COLLECTION_READS:
        attrs["hit"] = bool(result)
    elif op == "mget" and isinstance(result, list):
        hits = sum(1 for value in result if value is not None)
        attrs["hits"] = hits
        attrs["hit"] = hits == len(result)
    elif op == "exists" and isinstance(result, int):
        attrs["hit"] = result > 0
    return attrs


_MAX_PIPELINE_WRITES = 50
_PIPELINE_WRITES = frozenset(
    {"set", "setex", "psetex", "setnx", "getset", "mset", "msetnx", "persist"}
    | set(_EXPIRES)
    | set(_EXPIRES_AT)
)


def pipeline_attrs(stack: list[Any], transaction: bool) -> dict[str, Any]:
    """One span for a pipeline: how many commands, and the writes with their expiry."""
    attrs: dict[str, Any] = {"system": SYSTEM, "op": "pipeline", "commands": len(stack)}
    if transaction:
        attrs["transaction"] = True
    writes: list[dict[str, Any]] = []
    for entry in stack:
        # redis-py queues (args, options) pairs
        queued = isinstance(entry, tuple) and entry and isinstance(entry[0], tuple)
        args = entry[0] if queued else ()
        if not args or _name(args[0]) not in _PIPELINE_WRITES:
            continue
        if len(writes) >= _MAX_PIPELINE_WRITES:
            break
        write = command_attrs(args, _NOTHING)
        del write["system"]
        writes.append(write)
    if writes:
        attrs["writes"] = writes
    return attrs


def _record(
    trace: context.ActiveTrace,
    attrs: dict[str, Any],
    started: float,
    error: BaseException | None,
    blocking: bool,
) -> None:
    """Append the span.  Never raises: it runs in the wrappers' ``finally``."""
    try:
        ended = context.perf_counter()
        if error is not None:
            attrs["error"] = type(error).__name__
        context.record_span(trace, "cache", started, ended, attrs, blocking=blocking, skip=1)
    except Exception:  # never break the host app
        pass


def _record_command(
    trace: context.ActiveTrace,
    args: tuple[Any, ...],
    result: Any,
    started: float,
    error: BaseException | None,
    blocking: bool,
) -> None:
    """:func:`_record` for one command, sync or awaited.  Never raises."""
    try:
        attrs = command_attrs(args, result)
    except Exception:  # never break the host app
        return
    _record(trace, attrs, started, error, blocking)


def _should_record() -> context.ActiveTrace | None:
    trace = context.current()
    if trace is None or cache_operation.get() is not None or context._muted.get():
        return None
    return trace


def _wrap_sync_command(cls: type) -> None:
    original = cls.__dict__.get("execute_command")
    if original is None or hasattr(original, _MARK):
        return

    @functools.wraps(original)
    def execute_command(self: Any, *args: Any, **options: Any) -> Any:
        trace = _should_record()
        if trace is None:
            return original(self, *args, **options)
        started = context.perf_counter()
        result, error = _NOTHING, None
        try:
            result = original(self, *args, **options)
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            _record_command(trace, args, result, started, error, True)

    setattr(execute_command, _MARK, original)
    cls.execute_command = execute_command  # type: ignore[attr-defined]


def _wrap_async_command(cls: type) -> None:
    original = cls.__dict__.get("execute_command")
    if original is None or hasattr(original, _MARK):
        return

    @functools.wraps(original)
    async def execute_command(self: Any, *args: Any, **options: Any) -> Any:
        trace = _should_record()
        if trace is None:
            return await original(self, *args, **options)
        started = context.perf_counter()
        result, error = _NOTHING, None
        try:
            result = await original(self, *args, **options)
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            _record_command(trace, args, result, started, error, False)

    setattr(execute_command, _MARK, original)
    cls.execute_command = execute_command  # type: ignore[attr-defined]


def _pipeline_facts(pipeline: Any) -> dict[str, Any]:
    stack = list(getattr(pipeline, "command_stack", ()) or ())
    transaction = bool(
        getattr(pipeline, "transaction", False) or getattr(pipeline, "explicit_transaction", False)
    )
    return pipeline_attrs(stack, transaction)


def _wrap_pipeline(cls: type, is_async: bool) -> None:
    original: Callable[..., Any] | None = cls.__dict__.get("execute")
    if original is None or hasattr(original, _MARK):
        return
    run = original

    if is_async:

        @functools.wraps(run)
        async def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
            trace = _should_record()
            if trace is None:
                return await run(self, *args, **kwargs)
            # The stack is emptied by execute: read it before.
            try:
                attrs = _pipeline_facts(self)
            except Exception:
                return await run(self, *args, **kwargs)
            started, error = context.perf_counter(), None
            try:
                return await run(self, *args, **kwargs)
            except BaseException as exc:
                error = exc
                raise
            finally:
                _record(trace, attrs, started, error, False)

    else:

        @functools.wraps(run)
        def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
            trace = _should_record()
            if trace is None:
                return run(self, *args, **kwargs)
            try:
                attrs = _pipeline_facts(self)
            except Exception:
                return run(self, *args, **kwargs)
            started, error = context.perf_counter(), None
            try:
                return run(self, *args, **kwargs)
            except BaseException as exc:
                error = exc
                raise
            finally:
                _record(trace, attrs, started, error, True)

    setattr(execute, _MARK, original)
    cls.execute = execute  # type: ignore[attr-defined]


def install(client: ModuleType) -> None:
    """Wrap ``redis.client`` (sync): Redis commands and Pipeline.execute."""
    _wrap_sync_command(client.Redis)
    _wrap_pipeline(client.Pipeline, is_async=False)


def install_asyncio(client: ModuleType) -> None:
    """Wrap ``redis.asyncio.client``: Redis commands and Pipeline.execute."""
    _wrap_async_command(client.Redis)
    _wrap_pipeline(client.Pipeline, is_async=True)


def uninstall(client: ModuleType) -> None:
    for cls, name in ((client.Redis, "execute_command"), (client.Pipeline, "execute")):
        original = getattr(cls.__dict__.get(name), _MARK, None)
        if original is not None:
            setattr(cls, name, original)


__all__ = ["command_attrs", "install", "install_asyncio", "pipeline_attrs", "uninstall"]

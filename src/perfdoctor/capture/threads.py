"""Work handed to a ``ThreadPoolExecutor`` belongs to the trace that handed it over.

Context variables do not cross into a pool's worker threads, so the calls a
request fans out to a pool (the fix ``sequential-http`` proposes, or asyncio's
``run_in_executor``) would be lost from the request, or land in the process's
own trace.  ``submit`` carries the current trace into the task, as
OpenTelemetry's threading instrumentation does for its span context.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture import context

_MARK = "__perfdoctor_wrapped__"


def _in_trace(trace: context.ActiveTrace, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        token = context._current.set(trace)
        try:
            return fn(*args, **kwargs)
        finally:
            context._current.reset(token)

    return run


def _wrap_submit(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def submit(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        trace = context._current.get() if context.state.enabled else None
        if trace is not None and trace.finished is None:
            fn = _in_trace(trace, fn)
        return original(self, fn, *args, **kwargs)

    setattr(submit, _MARK, True)
    return submit


def install(module: ModuleType) -> None:
    executor = module.ThreadPoolExecutor
    if not getattr(executor.submit, _MARK, False):
        executor.submit = _wrap_submit(executor.submit)

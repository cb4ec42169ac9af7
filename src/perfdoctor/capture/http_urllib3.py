"""urllib3: one ``http`` span per ``HTTPConnectionPool.urlopen`` made by the user's code.

requests sends through urllib3; such a call is already recorded by requests,
so the pool stays silent under it (see :mod:`perfdoctor.capture.outbound`).
A retry calls ``urlopen`` again from inside the first call: one span.  The
timeout in effect is the call's, else the pool's; urllib3's default is the
socket default, which is no timeout unless the program set one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture import outbound

_MARK = "__perfdoctor_wrapped__"


def _facts(response: Any) -> tuple[int | None, Any, Any]:
    # With preload_content (the default) the body is already in memory.
    return response.status, getattr(response, "_body", None), response.headers


def _wrap_urlopen(original: Callable[..., Any], default: Any) -> Callable[..., Any]:
    @functools.wraps(original)
    def urlopen(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if outbound.inner() is not None:
            return original(self, method, url, *args, **kwargs)
        started = outbound.begin("urllib3", method, lambda: _full_url(self, url))
        if started is None:
            return original(self, method, url, *args, **kwargs)
        # urlopen(method, url, body, headers, retries, redirect, assert_same_host, timeout)
        timeout = kwargs.get("timeout", args[5] if len(args) > 5 else default)
        if timeout is default:
            timeout = self.timeout
        outbound.note_timeout(started[0], timeout, default)
        return outbound.send(started, original, (self, method, url, *args), kwargs, _facts)

    setattr(urlopen, _MARK, True)
    return urlopen


def _full_url(pool: Any, url: str) -> str:
    return url if "://" in url else f"{pool.scheme}://{_netloc(pool)}{url}"


def _netloc(pool: Any) -> str:
    host = str(pool.host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{pool.port}" if pool.port else host


def install(module: ModuleType) -> None:
    pool = module.HTTPConnectionPool
    if getattr(pool.urlopen, _MARK, False):
        return
    from urllib3.util import timeout

    # urllib3 2 names its "socket default" marker _DEFAULT_TIMEOUT, 1.26 _Default.
    default = getattr(timeout, "_DEFAULT_TIMEOUT", None) or getattr(timeout, "_Default", None)
    pool.urlopen = _wrap_urlopen(pool.urlopen, default)

"""A WSGI app of one's own, called in-process: its pages in turn, as the
``--wsgi`` "request" of ``request_instructions.py`` and ``request_opcodes.py``.

Run in the app's own interpreter (perfdoctor installed there), from its folder::

    --wsgi mysite.wsgi:application --cwd ../mysite --env DJANGO_SETTINGS_MODULE=mysite.settings
    --path / --path /blog/
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser, spawns: bool) -> None:
    """The options naming the app; ``spawns``: the script runs it in worker processes,
    with the app's own interpreter (``--python``)."""
    parser.add_argument("--wsgi", metavar="MODULE:APP", help="a WSGI app of one's own instead")
    parser.add_argument("--path", action="append", help="with --wsgi: a page, each in turn")
    parser.add_argument("--cwd", help="with --wsgi: the app's folder")
    parser.add_argument("--env", action="append", metavar="NAME=VALUE", help="with --wsgi")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="with --wsgi: sent with every page (a logged-in session's cookie)",
    )
    if spawns:
        parser.add_argument("--python", help="with --wsgi: the app's interpreter")


def worker_options(args: argparse.Namespace, env: dict[str, str]) -> list[str]:
    """A worker's options for the app of ``args`` (none without ``--wsgi``); its
    ``--env`` settings put into ``env``."""
    if not args.wsgi:
        return []
    env.update(environment(args.env))
    options = ["--wsgi", args.wsgi, *[f"--path={p}" for p in args.path or ["/"]]]
    options += [f"--header={h}" for h in args.header]
    if args.cwd:
        options += ["--cwd", str(Path(args.cwd).resolve())]
    return options


def environment(pairs: list[str] | None) -> dict[str, str]:
    """``--env NAME=VALUE`` options as a dict; a clear error for a malformed one."""
    found: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--env wants NAME=VALUE, got {pair!r}")
        found[name] = value
    return found


def driver(
    spec: str, paths: list[str], cwd: str | None, headers: list[str] | None = None
) -> Callable[[], int]:
    """One call requests every page of ``paths`` once (a 2xx or 3xx each), in-process,
    with ``headers`` ('NAME: VALUE') on each."""
    sent = {}
    for header in headers or []:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise SystemExit(f"--header wants 'NAME: VALUE', got {header!r}")
        sent["HTTP_" + name.strip().upper().replace("-", "_")] = value.strip()
    if cwd:
        os.chdir(cwd)
        sys.path.insert(0, os.path.abspath(cwd))
    module_name, _, attr = spec.partition(":")
    app: Any = getattr(importlib.import_module(module_name), attr or "application")

    def page(path: str) -> int:
        route, _, query = path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": route,
            "QUERY_STRING": query,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "HTTP_HOST": "localhost",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            **sent,
        }
        status: list[str] = []
        body = app(environ, lambda s, h, e=None: status.append(s))
        try:
            size = sum(len(chunk) for chunk in body)
        finally:
            getattr(body, "close", lambda: None)()
        if not status or status[0][:1] not in "23":
            raise SystemExit(f"GET {path}: {status[0] if status else 'no response'}")
        return size

    def one() -> int:
        return sum(page(path) for path in paths)

    return one

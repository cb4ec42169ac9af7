"""Run a function right after a module is imported, or now if it already is.

This is how ``perfdoctor run`` instruments Django, Flask or psycopg without a
change to the user's code: the patch is applied the moment the library loads.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

Hook = Callable[[ModuleType], None]

_hooks: dict[str, list[Hook]] = {}
_busy = threading.local()
_warned: set[str] = set()


def _run(name: str, module: ModuleType) -> None:
    for hook in _hooks.pop(name, []):
        try:
            hook(module)
        except Exception as exc:  # never break the import of the user's library
            if name not in _warned:
                _warned.add(name)
                sys.stderr.write(f"perfdoctor: could not instrument {name}: {exc}\n")


class _Loader(importlib.abc.Loader):
    def __init__(self, name: str, loader: importlib.abc.Loader) -> None:
        self._name = name
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _run(self._name, module)

    def __getattr__(self, item: str) -> Any:
        return getattr(self._loader, item)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _hooks:
            return None
        busy: set[str] = getattr(_busy, "names", set())
        if fullname in busy:
            return None
        _busy.names = busy | {fullname}
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            _busy.names = busy
        if spec is None or spec.loader is None:
            return None
        spec.loader = _Loader(fullname, spec.loader)
        return spec


_finder = _Finder()


def when_imported(name: str, hook: Hook) -> None:
    module = sys.modules.get(name)
    if module is not None:
        _hooks.setdefault(name, []).append(hook)
        _run(name, module)
        return
    _hooks.setdefault(name, []).append(hook)
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)

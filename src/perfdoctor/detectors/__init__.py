"""Detectors: each module in this package registers one detector.

Adding a detector is adding a module that decorates its class with
:func:`register`; nothing central changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TypeVar

from perfdoctor.detectors.base import Detector, PerTraceDetector

_REGISTRY: dict[str, type[Detector]] = {}
D = TypeVar("D", bound=type[Detector])


def register(cls: D) -> D:
    if cls.id in _REGISTRY and _REGISTRY[cls.id] is not cls:
        raise ValueError(f"two detectors claim the id {cls.id!r}")
    _REGISTRY[cls.id] = cls
    return cls


def _load_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_") and module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")


def all_detectors() -> list[Detector]:
    _load_all()
    return [cls() for _, cls in sorted(_REGISTRY.items())]


__all__ = ["Detector", "PerTraceDetector", "all_detectors", "register"]

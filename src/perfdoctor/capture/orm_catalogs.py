"""The app's ORM catalogs (``perfdoctor.orm.catalog`` JSON), computed once per process.

Called by the encoder in the recorder's thread, never on the request path.  Only
an ORM the app has already imported is read (``sys.modules``; perfdoctor never
imports Django or SQLAlchemy into an app).  Reading the models costs a few
milliseconds once; after that, each batch pays one cheap check of the ORM's
state (how many models, whether mappers are configured) and the catalog is
rebuilt only when that changed.  Stored once per content id, like stacks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from perfdoctor import store
from perfdoctor.orm import django_meta, sqlalchemy_meta, stored

# (module whose presence means the app uses the ORM, its state check, its catalog)
_ORMS: tuple[tuple[str, Callable[[], Any], Callable[[], dict[str, Any] | None]], ...] = (
    ("django.apps.registry", django_meta.state, django_meta.catalog),
    ("sqlalchemy.orm.mapper", sqlalchemy_meta.state, sqlalchemy_meta.catalog),
)

# module -> (state it was computed at, (content id, JSON) or None).  Per process:
# the models are the process's; a forked worker inherits a still-valid entry.
# No lock: two threads (the recorder, the pytest plugin's converter) building
# at once compute the same thing, and a lock held across a fork would hang the
# child's recorder.
_cache: dict[str, tuple[Any, tuple[str, str] | None]] = {}


def current() -> list[tuple[str, str]]:
    """``(content id, JSON)`` of each ORM catalog of this process now; never raises."""
    found: list[tuple[str, str]] = []
    for module, state_of, build in _ORMS:
        if module not in sys.modules:
            continue
        try:
            entry = _entry(module, state_of, build)
        except Exception:  # capture must never raise into the app
            entry = None
        if entry is not None:
            found.append(entry)
    return found


def _entry(
    module: str, state_of: Callable[[], Any], build: Callable[[], dict[str, Any] | None]
) -> tuple[str, str] | None:
    state = state_of()
    cached = _cache.get(module)
    if cached is not None and cached[0] == state:
        return cached[1]
    data = build()
    entry = None
    if data is not None and data.get("models"):
        text = stored.catalog_text(data)
        entry = (store.content_id(text), text)
    _cache[module] = (state, entry)
    return entry

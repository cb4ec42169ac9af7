"""TOML reading: the standard library's ``tomllib`` from Python 3.11, ``tomli`` before.

Imported lazily: capture imports settings inside apps whose venv may have no
``tomli``, and only reading a ``pyproject.toml`` needs it.
"""

from __future__ import annotations

import sys
from typing import Any


class TOMLDecodeError(ValueError):
    """The file is not valid TOML (or, before Python 3.11, ``tomli`` is missing)."""


def loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib as toml  # novermin: only on 3.11+
    else:  # pragma: no cover - exercised in the old-interpreter venvs
        try:
            import tomli as toml
        except ImportError:
            raise TOMLDecodeError(
                "reading TOML on Python < 3.11 needs tomli (pip install tomli)"
            ) from None
    try:
        data: dict[str, Any] = toml.loads(text)
        return data
    except toml.TOMLDecodeError as exc:
        raise TOMLDecodeError(str(exc)) from exc

"""What to drive: endpoints, the app or URL, durations."""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfdoctor.errors import UsageError

_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    query: str

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}" + (f"?{self.query}" if self.query else "")


def parse_endpoint(text: str) -> Endpoint:
    """``"GET /articles?page=2"`` -> an :class:`Endpoint`."""
    parts = text.split()
    if len(parts) != 2 or parts[0].upper() not in _METHODS or not parts[1].startswith("/"):
        raise UsageError(f"bad --endpoint {text!r}: expected METHOD /path, e.g. 'GET /articles'")
    path, _, query = parts[1].partition("?")
    return Endpoint(parts[0].upper(), path, query)


def parse_header(text: str) -> tuple[str, str]:
    """``"Authorization: Bearer abc"`` -> ``("Authorization", "Bearer abc")``."""
    name, sep, value = text.partition(":")
    if (
        not sep
        or not name.strip()
        or not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name.strip())
    ):
        raise UsageError(
            f"bad --header {text!r}: expected 'Name: value', e.g. 'Authorization: Bearer …'"
        )
    return name.strip(), value.strip()


def parse_duration(text: str) -> float:
    """Seconds in ``"10s"``, ``"500ms"``, ``"2m"`` or ``"10"``."""
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise UsageError(f"bad --duration {text!r}: expected e.g. 10s, 500ms or 2m")
    value = float(match.group(1))
    unit = match.group(2) or "s"
    return value / 1000.0 if unit == "ms" else value * 60.0 if unit == "m" else value


def check_app_ref(ref: str) -> None:
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"bad --app {ref!r}: expected module:attribute, e.g. myproject.app:app")


def load_app(ref: str, root: str | None = None) -> Any:
    """Import ``module:attr`` (``attr`` may be dotted) from ``root``, by default the working
    directory."""
    check_app_ref(ref)
    module_name, _, attr = ref.partition(":")
    where = root or str(Path.cwd())
    if root is not None or where not in sys.path:
        sys.path.insert(0, where)
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise UsageError(f"--app {ref!r}: cannot import {module_name}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"--app {ref!r}: {module_name} has no attribute {attr}") from None
    if not callable(obj):
        raise UsageError(f"--app {ref!r} is not a WSGI or ASGI application (not callable)")
    return obj

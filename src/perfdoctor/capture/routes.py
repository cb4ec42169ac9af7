"""Trace names: ``METHOD /route/{template}``, never the raw path with its ids."""

from __future__ import annotations

import re

_ID_SEGMENT = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{16,})$"
)
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_TYPED_PARAM = re.compile(r"\{([^:{}]+):[^{}]+\}")


def from_raw_path(path: str) -> str:
    """Fallback when no router told us the template: collapse id-like segments."""
    segments = ["{id}" if _ID_SEGMENT.match(seg) else seg for seg in path.split("/")]
    return "/".join(segments) or "/"


def from_angle_template(rule: str) -> str:
    """Flask ``/articles/<int:id>`` and Django ``articles/<int:pk>/`` → ``/articles/{id}``."""
    text = _CONVERTER.sub(lambda m: "{" + m.group(1) + "}", rule)
    return text if text.startswith("/") else "/" + text


def from_brace_template(path: str) -> str:
    """Starlette ``/items/{id:int}`` → ``/items/{id}``."""
    return _TYPED_PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def name(method: str, template: str) -> str:
    return f"{method.upper()} {template}"

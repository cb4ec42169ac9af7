"""Helpers shared by the response and endpoint detectors."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from perfdoctor.model import Location, Trace

FRAMEWORKS = ("django", "flask", "fastapi", "starlette")
LABELS = {"django": "Django", "flask": "Flask", "fastapi": "FastAPI", "starlette": "Starlette"}


def requests_by_endpoint(traces: Sequence[Trace]) -> dict[str, list[Trace]]:
    """HTTP request traces grouped by endpoint name (``GET /articles``)."""
    groups: dict[str, list[Trace]] = defaultdict(list)
    for trace in traces:
        if trace.kind == "http":
            groups[trace.name].append(trace)
    return groups


def method_of(name: str) -> str:
    return name.split(" ", 1)[0].upper()


def response(trace: Trace) -> dict[str, Any]:
    facts = trace.attrs.get("response")
    return facts if isinstance(facts, dict) else {}


def headers(trace: Trace) -> dict[str, str]:
    found = trace.attrs.get("response_headers")
    return found if isinstance(found, dict) else {}


def handler(traces: Sequence[Trace]) -> Location | None:
    """The view that answered (the location of a finding about its responses)."""
    for trace in traces:
        found = trace.attrs.get("handler")
        if isinstance(found, dict) and found.get("path"):
            return Location(str(found["path"]), int(found.get("line") or 0), str(found["function"]))
    return None


def framework(traces: Sequence[Trace]) -> str | None:
    """The web framework that served these requests, when capture knew it."""
    for trace in traces:
        name = trace.attrs.get("framework")
        if name in FRAMEWORKS:
            return str(name)
    # Django's ORM or a Django cache in the spans means a Django view.
    for trace in traces:
        if any(span.framework == "django" for span in trace.spans):
            return "django"
    return None


class Endpoint:
    """What several endpoint detectors read of every request, gathered request by
    request: the first handler and the framework (as :func:`handler` and
    :func:`framework` find them in the whole group)."""

    __slots__ = ("django", "first_framework", "handler", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.handler: Location | None = None
        self.first_framework: str | None = None
        self.django = False

    def add(self, trace: Trace) -> None:
        self.requests += 1
        if self.handler is None:
            self.handler = handler((trace,))
        if self.first_framework is None:
            name = trace.attrs.get("framework")
            if name in FRAMEWORKS:
                self.first_framework = str(name)
        if not self.django and self.first_framework is None:
            self.django = any(span.framework == "django" for span in trace.spans)

    def framework(self) -> str | None:
        return self.first_framework or ("django" if self.django else None)


def pick(fixes: dict[str, str], name: str | None, general: str) -> str:
    """The fix for the framework in use, or every framework's when it is unknown."""
    if name in fixes:
        return fixes[name]
    return general + " " + " ".join(f"{LABELS.get(k, k)}: {text}" for k, text in fixes.items())

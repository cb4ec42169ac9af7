"""What a response held: its size, how many items a JSON list had, and a digest.

Every server integration feeds the body it sends through a :class:`BodyMeter`
(WSGI as the server iterates, ASGI per ``http.response.body`` message, Django
from ``response.content``).  Counting bytes costs a ``len`` per chunk; a body
of at most ``response_parse_max_bytes`` is kept (in memory, never stored) until
its trace is encoded in the recorder's thread, where it is given a keyed digest
(equal bodies, equal digests) and, when it is ``application/json``, parsed.
Nothing here may raise into the host application.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from perfdoctor import callsite
from perfdoctor.capture.privacy import keyed_hasher
from perfdoctor.settings import Settings

# Read once: the capture side uses the defaults (a user's pyproject is read by
# the analysis, not by every worker that starts).
MAX_PARSED = Settings().response_parse_max_bytes

# The response headers a trace keeps (for missing-http-cache and the reports);
# never cookies or auth headers.
KEPT_HEADERS = (
    "content-type",
    "content-length",
    "cache-control",
    "etag",
    "last-modified",
    "content-encoding",
    "vary",
)

# Keys under which a paginated API puts the page's list (DRF "results", JSON:API
# "data", Elasticsearch-like "items", Tastypie "objects", "records").
LIST_KEYS = ("results", "items", "data", "objects", "records")
# Keys that say the list is one page of more (DRF next/previous/count, cursor APIs).
PAGING_KEYS = frozenset(
    {
        "next",
        "previous",
        "prev",
        "page",
        "pages",
        "total",
        "count",
        "cursor",
        "next_cursor",
        "has_more",
        "has_next",
        "total_pages",
        "page_size",
        "per_page",
        "limit",
        "offset",
        "links",
        "_links",
    }
)
# Query string names that ask for one page (only names are kept, never values).
PAGING_PARAMS = frozenset(
    {
        "limit",
        "offset",
        "page",
        "page_size",
        "per_page",
        "pagesize",
        "size",
        "cursor",
        "after",
        "before",
        "first",
        "last",
        "top",
        "skip",
        "max_results",
    }
)


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def summarize_json(body: bytes) -> dict[str, Any]:
    """``items`` and ``paginated`` of a JSON body (empty when it is not a list answer).

    >>> summarize_json(b'{"count": 2, "next": null, "results": [1, 2]}')
    {'items': 2, 'paginated': True}
    """
    stripped = body.lstrip()
    if not stripped or stripped[:1] not in (b"[", b"{"):
        return {}
    if _outline is not None:
        found = _outline(body)
        if found is None:  # not JSON
            return {}
        if found is not Ellipsis:
            return _summary_of(body, *found)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested past the interpreter's depth
        return {}
    if isinstance(data, list):
        return {"items": len(data), "paginated": False}
    if not isinstance(data, dict):
        return {}
    return _summary({key: len(v) if isinstance(v, list) else -1 for key, v in data.items()})


def _summary_of(body: bytes, non_ascii: bool, outline: Any) -> dict[str, Any]:
    """The summary of a body from its compiled outline (see ``_speedups.c``)."""
    if non_ascii:
        try:  # as json.loads decodes bytes
            body.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return {}
    if isinstance(outline, int):
        return {"items": outline, "paginated": False}
    members: dict[str, int] = {}
    for key, items in outline:
        # A key with an escape or a byte past ASCII comes raw; the last of equal
        # keys wins, as in the dict json.loads makes.
        members[key if type(key) is str else json.loads(b'"' + key + b'"')] = items
    return _summary(members)


def _summary(members: dict[str, int]) -> dict[str, Any]:
    """A top object's summary from its members' list lengths (-1: not a list)."""
    paginated = any(key in PAGING_KEYS for key in members)
    for key in LIST_KEYS:
        if members.get(key, -1) >= 0:
            return {"items": members[key], "paginated": paginated}
    if len(members) == 1:
        # {"articles": [...]}: the whole answer is one named list.
        (items,) = members.values()
        if items >= 0:
            return {"items": items, "paginated": False}
    return {}


# The compiled outline of a JSON body, or None (then json.loads): measured on a
# DRF list of 39 items (10 KB), 51 µs a body parsed against ~10 scanned.
_outline: Callable[[bytes], Any] | None = callsite.compiled("json_outline")


class BodyMeter:
    """Counts the bytes of one response body; what it held is summarised later.

    The request thread only counts and keeps the chunks (the server has them
    already: no copy); the digest and the JSON parse, which cost more than the
    rest of a request's bookkeeping, run where the trace is encoded (the
    recorder's thread), through the :class:`BodySummary` that :meth:`store`
    leaves in the trace's attrs.
    """

    __slots__ = ("_chunks", "_json", "bytes", "sent_at")

    def __init__(self) -> None:
        self.bytes = 0
        # perf_counter() when the last chunk went out (what the client waited for).
        self.sent_at: float | None = None
        # None once the body is past the cap: neither digested nor parsed then.
        self._chunks: list[bytes] | None = []
        self._json = False

    def headers(self, content_type: str | None, content_length: str | None) -> None:
        """What the response says it is, from its headers."""
        try:
            self._json = is_json(content_type)
            if content_length is not None and int(content_length) > MAX_PARSED:
                self._chunks = None
        except (TypeError, ValueError):
            pass

    def feed(self, chunk: bytes) -> None:
        size = len(chunk)
        if not size:
            return
        self.bytes += size
        chunks = self._chunks
        if chunks is not None:
            if self.bytes > MAX_PARSED:
                self._chunks = None
            else:
                chunks.append(chunk)

    def summary(self) -> dict[str, Any]:
        return BodySummary(self.bytes, self._chunks, self._json).facts()

    def store(self, attrs: dict[str, Any]) -> None:
        """Put the summary in a trace's attrs, computed when the trace is encoded.

        Never raises.
        """
        try:
            attrs["response"] = BodySummary(self.bytes, self._chunks, self._json)
        except Exception:
            pass


class BodySummary:
    """A response's ``bytes``, ``body_digest``, ``items`` and ``paginated``, on demand.

    Left in a trace's attrs by :meth:`BodyMeter.store` and :func:`measure`; the
    encoder calls :meth:`facts`.  Holds the body's chunks until then (at most
    ``response_parse_max_bytes`` a response).  When the summaries not yet
    computed hold ``DEFERRED_MAX_BYTES`` in all (a recorder behind a burst of
    large responses), a new one is computed at once instead.
    """

    __slots__ = ("_chunks", "_facts", "_held", "_json", "bytes")

    def __init__(self, size: int, chunks: list[bytes] | None, as_json: bool) -> None:
        global _held_bytes
        self.bytes = size
        self._json = as_json
        self._facts: dict[str, Any] | None = None
        self._chunks = chunks or None
        self._held = 0
        if self._chunks is not None:
            if _held_bytes + size > DEFERRED_MAX_BYTES:
                self.facts()
            else:
                self._held = size
                _held_bytes += size

    def facts(self) -> dict[str, Any]:
        """The summary (computed once)."""
        facts = self._facts
        if facts is None:
            facts = {"bytes": self.bytes}
            chunks = self._chunks
            if chunks is not None:
                body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                hasher = keyed_hasher()
                hasher.update(body)
                facts["body_digest"] = hasher.hexdigest()
                if self._json:
                    facts.update(summarize_json(body))
            self._facts = facts
            self._release()
        return facts

    def _release(self) -> None:
        global _held_bytes
        self._chunks = None
        if self._held:
            # Approximate under threads (no lock on the hot path): never below 0.
            _held_bytes = max(0, _held_bytes - self._held)
            self._held = 0

    def __del__(self) -> None:
        # A trace dropped without being encoded (sampling) lets go of what it held.
        try:
            self._release()
        except Exception:  # pragma: no cover - defensive
            pass


# What the summaries not yet computed may hold, all together.
DEFERRED_MAX_BYTES = 32 * 1024 * 1024
_held_bytes = 0


def measure(body: bytes, content_type: str | None, attrs: dict[str, Any]) -> None:
    """The whole body at once (Django's ``response.content``) into ``attrs``."""
    try:
        size = len(body)
        attrs["response"] = BodySummary(
            size, [body] if size <= MAX_PARSED else None, is_json(content_type)
        )
    except Exception:
        pass


# A parameter name as APIs spell them; anything else may be a value (``?<token>``).
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-\[\]]{0,39}")


def query_names(names: Iterable[str]) -> list[str]:
    """The parameter names of a query string, sorted; their values are never kept."""
    return sorted({name for name in names if _NAME.fullmatch(name)})[:20]


def query_names_of(query_string: str) -> list[str]:
    """Names of ``name=value`` pairs only: a bare ``?abc`` is a value, not a name."""
    if not query_string:
        return []
    return query_names(part.split("=", 1)[0] for part in query_string.split("&") if "=" in part)


def handler_location(func: Any) -> dict[str, Any] | None:
    """Where the view that answered is defined: the location of response findings.

    A class-based view (Django's ``view_class``, DRF's ``cls``) also names its
    class and the file it is in: the analysis reads the class's ``queryset =``
    or ``get_queryset`` there when a serializer's loop repeats a query.
    """
    view_class = getattr(func, "view_class", None) or getattr(func, "cls", None)
    about: dict[str, Any] = {}
    if isinstance(view_class, type):
        about = _class_facts(view_class)
        # A ViewSet maps methods to actions ({"get": "list"}); a view has get().
        actions = getattr(func, "actions", None)
        action = None
        if isinstance(actions, dict) and actions:
            action = actions.get("get") or next(iter(actions.values()))
        func = (
            (getattr(view_class, action, None) if isinstance(action, str) else None)
            or getattr(view_class, "get", None)
            or getattr(view_class, "dispatch", None)
        )
    for _ in range(10):
        wrapped = getattr(func, "__wrapped__", None)
        if wrapped is None:
            break
        func = wrapped
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    function = getattr(code, "co_qualname", code.co_name)  # co_qualname: Python 3.11+
    found = {"path": code.co_filename, "line": code.co_firstlineno, "function": function}
    if about and callsite.classify(code.co_filename) != callsite.USER and "line" in about:
        # The handler method is the framework's (ModelViewSet.list): the user's
        # class is what they wrote.
        found = {"path": about["path"], "line": about["line"], "function": about["class"]}
    if about:
        found["class"] = about["class"]
        found["class_path"] = about["path"]
    return found


# view class -> its qualified name, file and first line; once per class.
_classes: dict[type, dict[str, Any]] = {}


def _class_facts(cls: type) -> dict[str, Any]:
    facts = _classes.get(cls)
    if facts is None:
        facts = {"class": cls.__qualname__}
        try:
            path = inspect.getsourcefile(cls)
            if path:
                facts["path"] = os.path.abspath(path)
                facts["line"] = inspect.getsourcelines(cls)[1]
        except (OSError, TypeError):
            pass
        if "path" not in facts:
            facts["path"] = ""
        if len(_classes) > 10_000:
            _classes.clear()
        _classes[cls] = facts
    return facts

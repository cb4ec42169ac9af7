"""Who made a request, as a keyed digest: enough to tell two users apart
(``cache-shared-key``, private responses marked public), never who they are.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any

from perfdoctor.capture.context import ActiveTrace, _running_loop, muted
from perfdoctor.capture.privacy import keyed_digest

# Cookie names that carry a login session in the frameworks we know (Django's
# sessionid, Flask's session, Starlette's session) or a token.
_SESSION_MARKERS = ("session", "sid", "token", "auth", "jwt")
_NOT_A_LOGIN = ("csrf", "xsrf")


def _session_cookies(header: str) -> list[str]:
    try:
        cookies = SimpleCookie()
        cookies.load(header)
    except CookieError:
        return []
    return sorted(
        f"{name}={morsel.value}"
        for name, morsel in cookies.items()
        if any(marker in name.lower() for marker in _SESSION_MARKERS)
        # Django's csrftoken and Angular's XSRF-TOKEN are sent by anonymous visitors too.
        and not any(marker in name.lower() for marker in _NOT_A_LOGIN)
    )


def from_headers(authorization: str | None, cookie: str | None) -> str | None:
    """A digest of the request's credentials, None when it carries none."""
    if authorization:
        return keyed_digest("authorization:" + authorization)
    if cookie:
        sessions = _session_cookies(cookie)
        if sessions:
            return keyed_digest("cookie:" + ";".join(sessions))
    return None


def set_user(trace: ActiveTrace, user: str | None, authenticated: bool | None = None) -> None:
    trace.attrs["user"] = user
    trace.attrs["authenticated"] = bool(user) if authenticated is None else authenticated


def from_django_request(request: Any) -> tuple[str | None, bool]:
    """The logged-in user: the one the view loaded, else the one its session names,
    else a digest of the credentials sent.

    ``request.user`` is lazy: reading it when the view did not would run the
    session and user queries inside the trace, so it is only read when loaded;
    the session, when needed, is read after the response and out of the trace.
    """
    user_object = getattr(request, "__dict__", {}).get("user")
    if user_object is not None and "_setupfunc" in getattr(user_object, "__dict__", {}):
        # A SimpleLazyObject: its target, or django's ``empty`` marker if not loaded.
        user_object = user_object.__dict__.get("_wrapped")
        if type(user_object) is object:
            user_object = None
    session = getattr(request, "__dict__", {}).get("session")
    if user_object is not None:
        if getattr(user_object, "is_authenticated", False):
            user = _django_user(getattr(user_object, "pk", ""))
            _remember_session(session, user)
            return user, True
        return None, False
    known = _known_session(session)
    if known is not None:
        return known, True
    if session is not None:
        # The view did not load the user (a cache hit, say): the session names
        # them.  Without this, one user would count as two (by user in one
        # request, by cookie in the next) and every session cookie as a login.
        found, user_id = _session_user_id(session)
        if found:
            if user_id is None:
                return None, False
            named = _django_user(user_id)
            _remember_session(session, named)
            return named, True
    headers = getattr(request, "META", {})
    sent = from_headers(headers.get("HTTP_AUTHORIZATION"), headers.get("HTTP_COOKIE"))
    return sent, sent is not None


def _django_user(pk: Any) -> str:
    return keyed_digest(f"django-user:{pk}")


# session digest -> user digest, learnt from requests that loaded the user: a
# later request of that session that did not is the same user, without reading
# the session (which async code cannot do here).  Digests only, in memory.
_SESSIONS: dict[str, str] = {}
_MAX_SESSIONS = 10_000


def _session_digest(session: Any) -> str | None:
    key = getattr(session, "session_key", None) if session is not None else None
    return keyed_digest(f"django-session:{key}") if isinstance(key, str) and key else None


def _remember_session(session: Any, user: str) -> None:
    try:
        digest = _session_digest(session)
        if digest is not None:
            if len(_SESSIONS) >= _MAX_SESSIONS:
                _SESSIONS.clear()
            _SESSIONS[digest] = user
    except Exception:
        pass


def _known_session(session: Any) -> str | None:
    try:
        digest = _session_digest(session)
        return _SESSIONS.get(digest) if digest is not None else None
    except Exception:
        return None


def _session_user_id(session: Any) -> tuple[bool, Any]:
    """(whether the session could be read, the logged-in user's id in it or None).

    A session the app already loaded is read from memory.  One it did not load
    is loaded now, after the response is complete (a session-store read, left
    out of the trace); not in async code, where Django forbids the sync read.
    """
    try:
        cached = getattr(session, "__dict__", {}).get("_session_cache")
        if cached is None:
            if getattr(session, "session_key", None) is None:
                return False, None  # no session cookie: the headers tell the rest
            if _running_loop() is not None:
                return False, None
            load = muted(session.load)
            cached = load()
        if not isinstance(cached, dict):
            return False, None
        return True, cached.get("_auth_user_id")
    except Exception:
        return False, None

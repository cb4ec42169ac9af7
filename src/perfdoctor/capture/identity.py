"""Who made a request, as a keyed digest: enough to tell two users apart
(``cache-shared-key``, private responses marked public), never who they are.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any

from perfdoctor.capture.context import ActiveTrace
from perfdoctor.capture.privacy import keyed_digest

# Cookie names that carry a login session in the frameworks we know (Django's
# sessionid, Flask's session, Starlette's session) or a token.
_SESSION_MARKERS = ("session", "sid", "token", "auth", "jwt")


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
    """The logged-in user, if the view already loaded it; else the credentials sent.

    ``request.user`` is lazy: reading it when the view did not would run the
    session and user queries inside the trace, so it is only read when loaded.
    """
    user_object = getattr(request, "__dict__", {}).get("user")
    if user_object is not None and "_setupfunc" in getattr(user_object, "__dict__", {}):
        # A SimpleLazyObject: its target, or django's ``empty`` marker if not loaded.
        user_object = user_object.__dict__.get("_wrapped")
        if type(user_object) is object:
            user_object = None
    if user_object is not None:
        if getattr(user_object, "is_authenticated", False):
            return keyed_digest(f"django-user:{getattr(user_object, 'pk', '')}"), True
        return None, False
    headers = getattr(request, "META", {})
    user = from_headers(headers.get("HTTP_AUTHORIZATION"), headers.get("HTTP_COOKIE"))
    return user, user is not None

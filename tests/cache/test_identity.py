"""Who made a request: login cookies count, CSRF cookies do not."""

from perfdoctor.capture import identity


def test_a_csrf_cookie_alone_is_not_a_login() -> None:
    assert identity.from_headers(None, "csrftoken=abc123") is None
    assert identity.from_headers(None, "XSRF-TOKEN=abc123") is None


def test_a_session_cookie_is_a_login_whatever_csrf_cookie_comes_with_it() -> None:
    first = identity.from_headers(None, "csrftoken=one; sessionid=s1")
    second = identity.from_headers(None, "csrftoken=two; sessionid=s1")
    assert first is not None and first == second
    assert identity.from_headers(None, "sessionid=s2") != first

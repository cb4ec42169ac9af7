"""Views with the caching mistakes perfdoctor finds, each beside its fix."""

from typing import Any

from django.contrib.auth import authenticate, login
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import get_token


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def login_view(request: HttpRequest) -> JsonResponse:
    """GET: a CSRF token (and its cookie); POST username/password: log in (a session)."""
    if request.method != "POST":
        return JsonResponse({"csrf": get_token(request)})
    user = authenticate(
        request, username=request.POST.get("username"), password=request.POST.get("password")
    )
    if user is None:
        return JsonResponse({"error": "wrong username or password"}, status=403)
    login(request, user)
    return JsonResponse({"logged_in": True})


def _profile_of(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    return {"username": user.get_username(), "email": getattr(user, "email", "")}


def my_profile(request: HttpRequest) -> JsonResponse:
    # The bug: the key names the page, not the user. The first user to come fills it
    # and everyone after them is served that user's profile.
    profile = cache.get("my-profile")  # shared-key: read
    if profile is None:
        profile = _profile_of(request)
        cache.set("my-profile", profile, timeout=300)  # shared-key: write
    return JsonResponse(profile)


def my_profile_fixed(request: HttpRequest) -> JsonResponse:
    key = f"my-profile:{request.user.pk}"
    profile = cache.get(key)
    if profile is None:
        profile = _profile_of(request)
        cache.set(key, profile, timeout=300)
    return JsonResponse(profile)


def banner(request: HttpRequest) -> JsonResponse:
    text = "Welcome to the cache site"
    cache.set("site-banner", text, timeout=None)  # no-ttl: write
    return JsonResponse({"banner": text})


def banner_fixed(request: HttpRequest) -> JsonResponse:
    text = "Welcome to the cache site"
    cache.set("site-banner-fixed", text, timeout=300)
    return JsonResponse({"banner": text})

"""missing-http-cache: a GET endpoint that keeps sending the same body with no HTTP
caching headers, or per-user data marked cacheable by shared caches."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from perfdoctor.detectors import register
from perfdoctor.detectors._responses import (
    framework,
    handler,
    headers,
    method_of,
    pick,
    requests_by_endpoint,
    response,
)
from perfdoctor.detectors.base import Detector, finding_fingerprint
from perfdoctor.model import Finding, Trace
from perfdoctor.settings import Settings

CACHE_FIXES = {
    "django": (
        "Decorate the view with @cache_control(max_age=60) (django.views.decorators.cache), "
        "or add an ETag with @etag(lambda request: <version>) or "
        "django.middleware.http.ConditionalGetMiddleware, so a repeat is answered with "
        "304 Not Modified or not asked at all."
    ),
    "flask": (
        "Set response.cache_control.max_age = 60 (and public or private), and an ETag: "
        "response.set_etag(<version>) then return response.make_conditional(request), "
        "so a repeat is answered with 304 Not Modified or not asked at all."
    ),
    "fastapi": (
        "Return the response with headers={'Cache-Control': 'max-age=60', 'ETag': <version>} "
        "and answer If-None-Match with Response(status_code=304), so a repeat costs nothing."
    ),
}
CACHE_FIXES["starlette"] = CACHE_FIXES["fastapi"]
CACHE_GENERAL = (
    "Send Cache-Control: max-age=<seconds> and an ETag (or Last-Modified) and answer "
    "conditional GETs with 304."
)
PRIVATE_FIXES = {
    "django": "use @cache_control(private=True, max_age=60) and patch_vary_headers(response, "
    "['Cookie', 'Authorization']), or @never_cache for data that must not be stored.",
    "flask": "set response.cache_control.private = True (and drop public/s-maxage), with "
    "Vary: Cookie, Authorization; no_store for data that must not be stored.",
    "fastapi": "send Cache-Control: private, max-age=60 (or no-store) with "
    "Vary: Authorization, Cookie.",
}
PRIVATE_FIXES["starlette"] = PRIVATE_FIXES["fastapi"]
PRIVATE_GENERAL = "Mark per-user responses Cache-Control: private (or no-store)."


def _directives(value: str | None) -> set[str]:
    if not value:
        return set()
    return {part.split("=", 1)[0].strip().lower() for part in value.split(",") if part.strip()}


def _varies_by_user(vary: str | None) -> bool:
    fields = {part.strip().lower() for part in (vary or "").split(",")}
    return bool(fields & {"authorization", "cookie", "*"})


@register
class MissingHttpCache(Detector):
    id = "missing-http-cache"
    description = "identical GET responses with no caching headers; per-user data marked public"

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        found = []
        for endpoint, group in sorted(requests_by_endpoint(traces).items()):
            if method_of(endpoint) != "GET":
                continue
            ok = [t for t in group if t.status == 200]
            found.extend(self._uncached(endpoint, ok, settings))
            found.extend(self._private_marked_public(endpoint, ok))
        return found

    def _uncached(self, endpoint: str, ok: list[Trace], settings: Settings) -> list[Finding]:
        bare = [
            t
            for t in ok
            if not headers(t).get("cache-control")
            and not headers(t).get("etag")
            and not headers(t).get("last-modified")
            and response(t).get("body_digest")
        ]
        if not bare:
            return []
        digests = Counter(str(response(t)["body_digest"]) for t in bare)
        digest, identical = digests.most_common(1)[0]
        if identical < settings.missing_http_cache_min_identical:
            return []
        same = [t for t in bare if response(t).get("body_digest") == digest]
        size = int(response(same[0]).get("bytes") or 0)
        if size < settings.missing_http_cache_min_bytes:
            return []
        per_user = any(t.attrs.get("authenticated") for t in same)
        fix = pick(CACHE_FIXES, framework(ok), CACHE_GENERAL)
        if per_user:
            fix += " These requests were authenticated: mark the response private."
        return [
            Finding(
                id=self.id,
                severity="warning",
                title=(
                    f"{endpoint} sent the same {size}-byte body {identical} times "
                    "with no Cache-Control, ETag or Last-Modified"
                ),
                endpoint=endpoint,
                location=handler(ok),
                evidence={
                    "requests": len(ok),
                    "identical_responses": identical,
                    "bytes": size,
                    "bytes_resent": size * (identical - 1),
                    "min_identical": settings.missing_http_cache_min_identical,
                },
                fix=fix,
                fingerprint=finding_fingerprint(self.id, endpoint, "uncached"),
            )
        ]

    def _private_marked_public(self, endpoint: str, ok: list[Trace]) -> list[Finding]:
        shared = [
            t
            for t in ok
            if t.attrs.get("authenticated")
            and t.attrs.get("user")
            and _directives(headers(t).get("cache-control")) & {"public", "s-maxage"}
            and not _directives(headers(t).get("cache-control")) & {"private", "no-store"}
            and not _varies_by_user(headers(t).get("vary"))
            and response(t).get("body_digest")
        ]
        # Proof that the data is per user: different users got different bodies
        # (a public page fetched by logged-in users is fine to share).
        bodies: dict[str, set[str]] = defaultdict(set)
        for trace in shared:
            bodies[str(trace.attrs["user"])].add(str(response(trace)["body_digest"]))
        if len(bodies) < 2:
            return []
        users = list(bodies.values())
        if any(users[i] & users[j] for i in range(len(users)) for j in range(i + 1, len(users))):
            return []
        control = headers(shared[0]).get("cache-control")
        return [
            Finding(
                id=self.id,
                severity="error",
                title=(
                    f"{endpoint} sends per-user data marked Cache-Control: {control}: "
                    "a shared cache (CDN, proxy) can serve one user's data to another"
                ),
                endpoint=endpoint,
                location=handler(ok),
                evidence={
                    "requests": len(shared),
                    "users": len(bodies),
                    "cache_control": control,
                    "bytes": int(response(shared[0]).get("bytes") or 0),
                },
                fix=pick(PRIVATE_FIXES, framework(ok), PRIVATE_GENERAL),
                fingerprint=finding_fingerprint(self.id, endpoint, "public"),
            )
        ]

"""missing-http-cache: a GET endpoint that keeps sending the same body with no HTTP
caching headers, or per-user data marked cacheable by shared caches."""

from __future__ import annotations

from collections import Counter, defaultdict

from perfdoctor.detectors import register
from perfdoctor.detectors._responses import Endpoint, headers, method_of, pick, response
from perfdoctor.detectors.base import (
    EndpointSession,
    Session,
    Summarising,
    finding_fingerprint,
)
from perfdoctor.model import Finding, Trace
from perfdoctor.settings import Settings

CACHE_FIXES = {
    "django": (
        "Decorate the view with @cache_control(max_age=60) (django.views.decorators.cache), "
        "or add an ETag with @etag(lambda request: <version>) or "
        "django.middleware.http.ConditionalGetMiddleware, so a repeat is answered with "
        "304 Not Modified or not asked at all."
    ),
    # A view often returns a dict or a rendered template: the response object is
    # made first (a real app's JSON API taught this).
    "flask": (
        "Make the response object (response = make_response(<what the view returns>)), "
        "set response.cache_control.max_age = 60 (and public or private) and an ETag, "
        "response.set_etag(<version>), then return response.make_conditional(request), "
        "so a repeat is answered with 304 Not Modified or not asked at all."
    ),
    # A path operation usually returns a model, not a Response: the headers go on
    # the Response it can declare (a real app's list endpoint taught this).
    "fastapi": (
        "Declare response: Response (and request: Request) in the path operation, set "
        "response.headers['Cache-Control'] = 'max-age=60' and response.headers['ETag'] = "
        "<version>, and return Response(status_code=304, headers={'ETag': <version>}) when "
        "request.headers.get('if-none-match') is that ETag, so a repeat costs nothing."
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
    "fastapi": "declare response: Response and set response.headers['Cache-Control'] = "
    "'private, max-age=60' (or 'no-store') and response.headers['Vary'] = "
    "'Authorization, Cookie'.",
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


class _Endpoint:
    """One GET endpoint's 200 answers so far: per body digest, how often it was
    sent bare (no caching headers), its size and whether a user was logged in;
    per user, the bodies marked public they got."""

    def __init__(self) -> None:
        self.ok = Endpoint()
        self.bare: Counter[str] = Counter()
        self.sizes: dict[str, int] = {}
        self.authenticated: dict[str, bool] = {}
        self.shared = 0
        self.first_shared: Trace | None = None
        self.bodies: dict[str, set[str]] = defaultdict(set)

    def add(self, trace: Trace) -> None:
        self.ok.add(trace)
        sent, facts = headers(trace), response(trace)
        digest = facts.get("body_digest")
        if not digest:
            return
        if not sent.get("cache-control") and not sent.get("etag") and not sent.get("last-modified"):
            key = str(digest)
            if key not in self.sizes:
                self.sizes[key] = int(facts.get("bytes") or 0)
            self.bare[key] += 1
            self.authenticated[key] = self.authenticated.get(key, False) or bool(
                trace.attrs.get("authenticated")
            )
        control = sent.get("cache-control")
        if (
            trace.attrs.get("authenticated")
            and trace.attrs.get("user")
            and _directives(control) & {"public", "s-maxage"}
            and not _directives(control) & {"private", "no-store"}
            and not _varies_by_user(sent.get("vary"))
        ):
            self.shared += 1
            if self.first_shared is None:
                # What the finding quotes of it: a shell of its attrs, not its spans.
                self.first_shared = Trace(
                    trace.id, trace.name, trace.kind, trace.started_at, 0.0, attrs=trace.attrs
                )
            self.bodies[str(trace.attrs["user"])].add(str(digest))


class _Session(EndpointSession[_Endpoint]):
    def __init__(self, detector: MissingHttpCache, settings: Settings) -> None:
        super().__init__(settings)
        self.detector = detector

    def wants(self, trace: Trace) -> bool:
        return trace.kind == "http" and trace.status == 200 and method_of(trace.name) == "GET"

    def summary(self) -> _Endpoint:
        return _Endpoint()

    def add(self, summary: _Endpoint, trace: Trace) -> None:
        summary.add(trace)

    def judge(self, name: str, summary: _Endpoint) -> list[Finding]:
        return self.detector._uncached(
            name, summary, self.settings
        ) + self.detector._private_marked_public(name, summary)


@register
class MissingHttpCache(Summarising):
    id = "missing-http-cache"
    description = "identical GET responses with no caching headers; per-user data marked public"

    def session(self, settings: Settings) -> Session:
        return _Session(self, settings)

    def _uncached(self, endpoint: str, seen: _Endpoint, settings: Settings) -> list[Finding]:
        if not seen.bare:
            return []
        digest, identical = seen.bare.most_common(1)[0]
        if identical < settings.missing_http_cache_min_identical:
            return []
        size = seen.sizes[digest]
        if size < settings.missing_http_cache_min_bytes:
            return []
        fix = pick(CACHE_FIXES, seen.ok.framework(), CACHE_GENERAL)
        if seen.authenticated[digest]:
            fix += " These requests were authenticated: mark the response private."
        # A body that changes now and then (healthchecks' status poll: 20 versions of one
        # page in 306 requests) is resent unchanged between its changes: every version's
        # repeats are what an ETag answers with 304, not the most common one's alone.
        repeated = {key: count for key, count in seen.bare.items() if count > 1}
        affected = sum(repeated.values())
        evidence = {
            "requests": seen.ok.requests,
            "requests_affected": affected,
            "identical_responses": identical,
            "bytes": size,
            "bytes_resent": sum(seen.sizes[key] * (n - 1) for key, n in repeated.items()),
            "min_identical": settings.missing_http_cache_min_identical,
        }
        versions = ""
        if len(repeated) > 1:
            evidence["versions_resent"] = len(repeated)
            versions = f" ({len(repeated)} versions resent, {affected} responses in all)"
        return [
            Finding(
                id=self.id,
                severity="warning",
                title=(
                    f"{endpoint} sent the same {size}-byte body {identical} times{versions} "
                    "with no Cache-Control, ETag or Last-Modified"
                ),
                endpoint=endpoint,
                location=seen.ok.handler,
                evidence=evidence,
                fix=fix,
                fingerprint=finding_fingerprint(self.id, endpoint, "uncached"),
            )
        ]

    def _private_marked_public(self, endpoint: str, seen: _Endpoint) -> list[Finding]:
        # Proof that the data is per user: different users got different bodies
        # (a public page fetched by logged-in users is fine to share).
        bodies = seen.bodies
        if len(bodies) < 2 or seen.first_shared is None:
            return []
        users = list(bodies.values())
        if any(users[i] & users[j] for i in range(len(users)) for j in range(i + 1, len(users))):
            return []
        first = seen.first_shared
        control = headers(first).get("cache-control")
        return [
            Finding(
                id=self.id,
                severity="error",
                title=(
                    f"{endpoint} sends per-user data marked Cache-Control: {control}: "
                    "a shared cache (CDN, proxy) can serve one user's data to another"
                ),
                endpoint=endpoint,
                location=seen.ok.handler,
                evidence={
                    "requests": seen.shared,
                    "requests_affected": seen.shared,
                    "users": len(bodies),
                    "cache_control": control,
                    "bytes": int(response(first).get("bytes") or 0),
                },
                fix=pick(PRIVATE_FIXES, seen.ok.framework(), PRIVATE_GENERAL),
                fingerprint=finding_fingerprint(self.id, endpoint, "public"),
            )
        ]

"""http-no-timeout: an outbound call that would wait for ever on a stalled upstream."""

from __future__ import annotations

from collections.abc import Iterable

from perfdoctor.detectors import register
from perfdoctor.detectors._http import http_spans, site
from perfdoctor.detectors.base import PerTraceDetector, finding_fingerprint
from perfdoctor.model import Finding, Span, Trace
from perfdoctor.settings import Settings

_FIXES = {
    "requests": (
        "Pass a timeout to every call: requests.get(url, timeout=(3.05, 10)) bounds the "
        "connect and the wait for each read; requests has no default. For a Session, "
        "mount an HTTPAdapter subclass whose send() sets a default timeout."
    ),
    "httpx": (
        "Give the client a finite timeout: httpx.Client(timeout=httpx.Timeout(10.0, "
        "connect=3.0)); timeout=None switches httpx's 5 s default off."
    ),
    "urllib3": (
        "Set a timeout on the pool or the call: urllib3.PoolManager(timeout="
        "urllib3.Timeout(connect=3.0, read=10.0)), or urlopen(..., timeout=...): the "
        "default is the socket default, which is no timeout."
    ),
    "urllib": (
        "Pass a timeout to every call: urllib.request.urlopen(url, timeout=10) (also "
        "opener.open(url, timeout=10)); the default is the socket default, which is no "
        "timeout unless socket.setdefaulttimeout() was called."
    ),
    "http.client": (
        "Give the connection a timeout: http.client.HTTPConnection(host, timeout=10) (or "
        "HTTPSConnection); the default is the socket default, which is no timeout. For an "
        "SDK built on http.client, set the timeout its client accepts."
    ),
    "aiohttp": (
        "Give the session a finite timeout: aiohttp.ClientSession(timeout="
        "aiohttp.ClientTimeout(total=10, sock_connect=3)); ClientTimeout(total=None) "
        "waits for ever."
    ),
}


@register
class HttpNoTimeout(PerTraceDetector):
    id = "http-no-timeout"
    description = "an outbound HTTP call made with no timeout"

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        sites: dict[tuple[str | None, str | None, str | None], list[Span]] = {}
        for span in http_spans(trace):
            if "timeout" not in span.attrs or span.attrs["timeout"] is not None:
                continue
            url = span.attrs.get("url")
            key = (span.system, None if url is None else str(url), site(span))
            sites.setdefault(key, []).append(span)
        for (system, url, call_site), spans in sites.items():
            first = spans[0]
            library = system or "the HTTP client"
            yield Finding(
                id=self.id,
                severity="warning",
                title=(
                    f"No timeout: {library} calls {url} with none, so a stalled upstream "
                    "holds this request (and its worker) indefinitely"
                ),
                endpoint=trace.name,
                location=first.location,
                evidence={
                    "library": system,
                    "method": first.attrs.get("method"),
                    "url": url,
                    "call_site": call_site,
                    "calls": len(spans),
                    "slowest_ms": round(max(s.duration_ms for s in spans), 3),
                },
                fix=_FIXES.get(
                    system or "", "Pass a finite timeout (connect and read) to every call."
                ),
                fingerprint=finding_fingerprint(self.id, trace.name, system, url, first.location),
            )

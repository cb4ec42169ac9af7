"""Every supported HTTP client calling a local upstream, one named trace per library.

``python clients_script.py UPSTREAM_URL AIOHTTP_UPSTREAM_URL``

Lines that make a call end with ``# call: NAME``; the test finds them by marker.
"""

from __future__ import annotations

import asyncio
import http.client
import sys
import urllib.error
import urllib.request

import aiohttp
import httpx
import requests
import urllib3

import perfdoctor

SECRET = "q-s3cret"


def with_requests(base: str) -> None:
    requests.get(f"{base}/items/1?token={SECRET}")  # call: requests-default
    with requests.Session() as session:
        session.get(f"{base}/items/2", timeout=(2, 7))  # call: requests-timeout
        session.get(f"{base}/redirect", timeout=5)  # call: requests-redirect
        session.get(f"{base}/stream", stream=True, timeout=5).close()  # call: requests-stream
    try:
        requests.get(f"{base}/stall?delay=500", timeout=0.05)  # call: requests-error
    except requests.Timeout:
        pass


def with_httpx(base: str) -> None:
    httpx.get(f"{base}/items/3")  # call: httpx-default
    with httpx.Client(timeout=None) as client:
        client.get(f"{base}/items/4")  # call: httpx-none


async def with_httpx_async(base: str) -> None:
    async with httpx.AsyncClient(timeout=12.0) as client:
        await client.get(f"{base}/items/5")  # call: httpx-async


def with_urllib3(base: str) -> None:
    pool = urllib3.PoolManager()
    pool.request("GET", f"{base}/items/6")  # call: urllib3-default
    timed = urllib3.PoolManager(timeout=urllib3.Timeout(connect=1.0, read=4.0))
    timed.request("GET", f"{base}/items/7")  # call: urllib3-timeout


async def with_aiohttp(base: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(f"{base}/items/8") as r:  # call: aiohttp-default
        await r.read()
    no_limit = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(timeout=no_limit) as session:
        response = await session.get(f"{base}/items/9")  # call: aiohttp-none
        await response.read()
        response.release()


def with_urllib(base: str) -> None:
    urllib.request.urlopen(f"{base}/items/10?token={SECRET}").read()  # call: urllib-default
    request = urllib.request.Request(f"{base}/redirect", headers={"Authorization": SECRET})
    urllib.request.urlopen(request, timeout=6).read()  # call: urllib-redirect
    try:
        urllib.request.urlopen(f"{base}/missing", timeout=6)  # call: urllib-404
    except urllib.error.HTTPError as exc:
        exc.read()


def with_http_client(base: str) -> None:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=8)
    for item in (11, 12):
        conn.request("GET", f"/items/{item}?token={SECRET}")
        conn.getresponse().read()  # call: http.client-keepalive
    conn.close()
    bare = http.client.HTTPConnection(host, int(port))
    bare.putrequest("GET", "/stock/3")
    bare.endheaders()
    bare.getresponse().read()  # call: http.client-low-level
    bare.close()


def main() -> None:
    base, async_base = sys.argv[1], sys.argv[2]
    with perfdoctor.trace("requests"):
        with_requests(base)
    with perfdoctor.trace("httpx"):
        with_httpx(base)
    with perfdoctor.trace("httpx-async"):
        asyncio.run(with_httpx_async(async_base))
    with perfdoctor.trace("urllib3"):
        with_urllib3(base)
    with perfdoctor.trace("aiohttp"):
        asyncio.run(with_aiohttp(async_base))
    with perfdoctor.trace("urllib"):
        with_urllib(base)
    with perfdoctor.trace("http.client"):
        with_http_client(base)


if __name__ == "__main__":
    main()

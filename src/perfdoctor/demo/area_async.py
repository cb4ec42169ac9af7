"""An event loop shared by every request, in a synchronous app.

Sync apps that use asyncio libraries often run one event loop for the whole
process in a background thread and hand it coroutines from their views
(``asyncio.run_coroutine_threadsafe(...).result()``): a websocket client, an
async SDK, a fan-out of API calls.  That loop serves every request, so a
synchronous call made on it holds up every request waiting on the loop.

``setup`` starts that loop; the endpoints gather an author's feeds from the
external API stand-in (area_external.py) on it:

* ``/async/authors/<id>/feeds``: the coroutine calls the API with the
  synchronous ``requests.get``, on the loop's thread, one feed after another
  (``blocking-in-async``);
* ``/async/authors/<id>/feeds/fixed``: the coroutine awaits the same calls run
  in threads (``asyncio.to_thread``), all at once, and the loop stays free.

The request's trace follows the coroutine onto the loop's thread:
``run_coroutine_threadsafe`` schedules it with ``call_soon_threadsafe``, which
copies the caller's context variables.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import requests
from flask import Blueprint, Flask, Response, current_app, jsonify

from perfdoctor.demo.area_external import TIMEOUT, api

ENDPOINTS = (
    "/async/authors/{author_id}/feeds",
    "/async/authors/{author_id}/feeds/fixed",
)

# The stand-in answers each in about 30 ms: five of them hold the loop ~150 ms.
FEEDS = ("profiles", "orders", "stock", "weather", "books")
# How long a view waits for its coroutine before giving up on the loop.
LOOP_TIMEOUT_S = 30.0

blueprint = Blueprint("async", __name__, url_prefix="/async")

T = TypeVar("T")


def setup(app: Flask) -> None:
    """Start the app's one event loop, in a daemon thread, for every request to share."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="demo-event-loop", daemon=True).start()
    app.extensions["demo_event_loop"] = loop


def on_the_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on the shared loop and wait for its result."""
    loop: asyncio.AbstractEventLoop = current_app.extensions["demo_event_loop"]
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=LOOP_TIMEOUT_S)


def feed_urls(author_id: int) -> list[str]:
    # Built in the view: the URLs come from the app's config.
    return [
        api(f"/books?ids={author_id * 100}") if feed == "books" else api(f"/{feed}/{author_id}")
        for feed in FEEDS
    ]


# --- blocking-in-async ------------------------------------------------------


async def gather_feeds(urls: list[str]) -> list[Any]:
    feeds = []
    for url in urls:
        # A synchronous call inside a coroutine: the shared loop waits with it.
        feeds.append(requests.get(url, timeout=TIMEOUT).json())  # blocking-in-async: requests
    return feeds


@blueprint.get("/authors/<int:author_id>/feeds")
def author_feeds(author_id: int) -> Response:
    feeds = on_the_loop(gather_feeds(feed_urls(author_id)))
    return jsonify(feeds=dict(zip(FEEDS, feeds)))


async def gather_feeds_fixed(urls: list[str]) -> list[Any]:
    # Each call runs in a worker thread; the loop awaits them all and serves others.
    responses = await asyncio.gather(
        *(asyncio.to_thread(requests.get, url, timeout=TIMEOUT) for url in urls)
    )
    return [response.json() for response in responses]


@blueprint.get("/authors/<int:author_id>/feeds/fixed")
def author_feeds_fixed(author_id: int) -> Response:
    feeds = on_the_loop(gather_feeds_fixed(feed_urls(author_id)))
    return jsonify(feeds=dict(zip(FEEDS, feeds)))

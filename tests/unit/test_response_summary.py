"""A response's summary is computed where the trace is encoded, and what waits for
that is bounded."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest

from perfdoctor.capture import response
from perfdoctor.capture.response import BodyMeter, BodySummary, measure

BODY = json.dumps({"count": 3, "next": None, "results": [1, 2, 3]}).encode()


def _stored(chunks: list[bytes], content_type: str = "application/json") -> Any:
    meter = BodyMeter()
    meter.headers(content_type, None)
    for chunk in chunks:
        meter.feed(chunk)
    attrs: dict[str, Any] = {}
    meter.store(attrs)
    return attrs["response"]


def test_a_body_sent_in_chunks_and_whole_summarises_the_same() -> None:
    chunked = _stored([BODY[:7], BODY[7:20], BODY[20:]])
    attrs: dict[str, Any] = {}
    measure(BODY, "application/json; charset=utf-8", attrs)
    assert isinstance(chunked, BodySummary)
    assert chunked.facts() == attrs["response"].facts()
    assert chunked.facts()["items"] == 3
    assert chunked.facts()["paginated"] is True
    assert chunked.facts()["bytes"] == len(BODY)
    # Another body, another digest; not JSON: counted and digested, not parsed.
    other = _stored([b"<html></html>"], "text/html").facts()
    assert other["body_digest"] != chunked.facts()["body_digest"]
    assert "items" not in other


def test_an_empty_body_has_no_digest() -> None:
    assert _stored([]).facts() == {"bytes": 0}


def test_past_the_budget_a_summary_is_computed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    gc.collect()
    before = response._held_bytes
    monkeypatch.setattr(response, "DEFERRED_MAX_BYTES", before + len(BODY) + 10)
    held = _stored([BODY])
    assert response._held_bytes == before + len(BODY)
    # The next one does not fit: summarised now, holding nothing.
    at_once = _stored([BODY])
    assert response._held_bytes == before + len(BODY)
    assert at_once.facts() == held.facts()
    assert response._held_bytes == before
    # A summary dropped unencoded (a trace sampling let go) gives its bytes back.
    dropped = _stored([BODY])
    assert response._held_bytes == before + len(BODY)
    del dropped
    gc.collect()
    assert response._held_bytes == before

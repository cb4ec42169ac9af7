"""Fixtures for the outbound HTTP tests: local upstream APIs on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.http.upstream import aiohttp_upstream, threaded_upstream


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """Base URL of a threaded stand-in for an external API (see upstream.py)."""
    with threaded_upstream() as base:
        yield base


@pytest.fixture(scope="module")
def async_upstream() -> Iterator[str]:
    """Base URL of the same API served by aiohttp on its own event loop."""
    with aiohttp_upstream() as base:
        yield base

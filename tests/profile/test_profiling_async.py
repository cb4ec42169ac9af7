"""Profiling requests served concurrently by one event loop (as an ASGI server does)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from perfdoctor.capture import context
from perfdoctor.capture.profile import Profiling, slug


def spin() -> None:  # async-hot
    deadline = time.perf_counter() + 0.02
    while time.perf_counter() < deadline:
        sum(range(100))


async def test_each_task_gets_its_own_profile(tmp_path: Path) -> None:
    profiling = Profiling(tmp_path / "profiles")
    done: list[context.ActiveTrace] = []

    async def request(name: str) -> None:
        trace, token = context.start(name)
        profiling.started(trace)
        await asyncio.sleep(0.005)
        spin()
        await asyncio.sleep(0.005)
        profiling.finished(trace)
        context.finish(trace, token)
        done.append(trace)

    saved = context.state.on_finish
    context.state.on_finish = None
    try:
        await asyncio.gather(request("GET /a"), request("GET /b"), request("GET /a"))
    finally:
        context.state.on_finish = saved
    profiling.write_all()

    assert len(done) == 3
    for trace in done:
        summary = trace.attrs["profile"]
        assert summary["samples"] > 0
        assert any(s["function"] == "spin" for s in summary["hotspots"]), summary
    for name in ("GET /a", "GET /b"):
        data = json.loads((tmp_path / "profiles" / f"{slug(name)}.speedscope.json").read_text())
        assert "$schema" in data and data["profiles"]


def test_slug() -> None:
    assert slug("GET /users/<int:id>") == "GET_users_int_id"
    assert slug("") == "endpoint"

"""The collector between chunks: its pace is counted in traces, whatever the chunk size."""

from __future__ import annotations

import gc

import pytest

from perfdoctor import gc_paused


def _generations(monkeypatch: pytest.MonkeyPatch, sizes: list[int]) -> list[int]:
    collected: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: collected.append(generation) or 0)
    collector = gc_paused.ChunkCollector()
    for size in sizes:
        collector.chunk_done(size)
    return collected


def test_the_pace_is_the_same_for_any_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    large = _generations(monkeypatch, [500] * 200)  # 100,000 traces
    small = _generations(monkeypatch, [100] * 1000)
    assert large.count(2) == small.count(2) == 2
    assert large.count(1) == small.count(1) == 40 - 2
    assert large.count(0) == small.count(0) == 200 - 40
    # Chunks of 500 collect as before the pace was counted in traces: the middle
    # generation every 5th chunk, all of them every 100th.
    assert [i for i, g in enumerate(large, 1) if g == 2] == [100, 200]
    assert all(g == 1 for i, g in enumerate(large, 1) if i % 5 == 0 and i % 100)


def test_small_chunks_wait_for_enough_traces(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _generations(monkeypatch, [100] * 4) == []
    assert _generations(monkeypatch, [100] * 5) == [0]
    assert _generations(monkeypatch, [3, 900]) == [0]

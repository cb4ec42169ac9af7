"""Shared by the reliability tests: another process holding a store, and what a store holds."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

HERE = Path(__file__).parent
ONE_QUERY = HERE / "one_query.py"


@contextlib.contextmanager
def holding(traces: Path, mode: str) -> Iterator[None]:
    """Another process holds ``traces`` (``exclusive`` or ``read``) until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, str(HERE / "hold_store.py"), str(traces), mode],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        line = holder.stdout.readline()
        assert line.strip() == "held", f"the holder did not take {traces}: {line!r}"
        yield
    finally:
        holder.stdin.close()  # its signal to let go
        holder.wait(timeout=30)


def names_in(traces: Path) -> list[str]:
    """The traces a store holds now, read as any SQLite client would (nothing merged)."""
    with closing(sqlite3.connect(traces)) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM traces")]


def requests_of(report: dict[str, object], name: str) -> int:
    endpoints = report["endpoints"]
    assert isinstance(endpoints, list)
    return sum(int(e["requests"]) for e in endpoints if e["name"] == name)

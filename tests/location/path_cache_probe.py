"""Run a site's driver with every captured call site worked out twice: by the
hot path (:func:`perfdoctor.callsite.capture_caller`, which skips a path it has
seen) and by the full walk from the same frame, with no anchor and no cache.

Run under ``perfdoctor run`` as ``python path_cache_probe.py OUT SITE_DIR PATHS...``;
writes to OUT, as JSON, how many operations were captured, how many of them the
hot path answered without walking, how many went past its first try
(``_search``), how many frames it looked up (``sys._getframe``) for them all, and
every one where the answers differ.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys
from typing import Any

from perfdoctor import callsite
from perfdoctor.capture import context

out, site = sys.argv[1], sys.argv[2]
stats: dict[str, Any] = {
    "operations": 0, "walked": 0, "frames": 0, "searched": 0, "mismatches": [],
}
hot_path = callsite.capture_caller
walk = callsite.capture
comparing = [False]


def counted_walk(*args: Any, **kwargs: Any) -> Any:
    if not comparing[0]:
        stats["walked"] += 1
    return walk(*args, **kwargs)


def described(answer: Any) -> Any:
    frames, framework, trigger = answer
    return (
        [f"{code.co_filename}:{getattr(code, 'co_qualname', code.co_name)}@{offset}" for code, offset in frames],
        framework,
        repr(trigger),
    )


def compared(skip: int, depth: int, anchor: Any = None, names: bool = True) -> Any:
    looked_up = frames_looked_up[0]
    got = hot_path(skip + 1, depth, anchor, names)
    stats["frames"] += frames_looked_up[0] - looked_up
    comparing[0] = True
    try:
        full = walk(sys._getframe(skip + 1), depth)
    finally:
        comparing[0] = False
    if not names:  # a span that keeps no trigger: one may be left out
        got, full = (got[0], got[1], None), (full[0], full[1], None)
    stats["operations"] += 1
    if described(got) != described(full):
        stats["mismatches"].append({"hot_path": described(got), "full_walk": described(full)})
    return got


def write() -> None:
    with open(out, "w", encoding="utf-8") as file:
        json.dump(stats, file)


frames_looked_up = [0]
getframe = callsite._getframe


def counted_getframe(depth: int = 0) -> Any:
    frames_looked_up[0] += 1
    return getframe(depth + 1)


search = callsite._search


def counted_search(first: Any, key: Any, site: Any, base: int, *rest: Any) -> Any:
    # An operation the first try did not answer (a frame deeper: base + 1).
    stats["searched"] += 1
    return search(first, key, site, base + 1, *rest)


callsite.capture = counted_walk  # type: ignore[assignment]
callsite._search = counted_search
callsite._getframe = counted_getframe
context._capture_caller = compared
atexit.register(write)
os.chdir(site)
sys.argv = ["drive.py", *sys.argv[3:]]
runpy.run_path("drive.py", run_name="__main__")

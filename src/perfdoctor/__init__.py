"""perfdoctor: find backend performance bottlenecks with evidence, prove fixes by measurement.

import perfdoctor
perfdoctor.instrument()              # capture in this process
with perfdoctor.trace("nightly-job"):
    run_job()
"""

from typing import TYPE_CHECKING, Any

from perfdoctor.capture import from_auto as _from_auto
from perfdoctor.model import Finding, Location, Span, Trace

if TYPE_CHECKING:
    from perfdoctor.capture.auto import flush, instrument, trace, uninstrument

__version__ = "0.1.0"

__all__ = [
    "Finding",
    "Location",
    "Span",
    "Trace",
    "__version__",
    "flush",
    "instrument",
    "trace",
    "uninstrument",
]

# Capture's entry points, imported on first use: the commands that only read a
# store (``perfdoctor report``) then start without capture's modules (asyncio
# and the recorder among them, ~25 ms of CPU at every start).
_CAPTURE = frozenset(("flush", "instrument", "trace", "uninstrument"))


def __getattr__(name: str) -> Any:
    return _from_auto(name, _CAPTURE, globals(), __name__)

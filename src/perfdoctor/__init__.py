"""perfdoctor: find backend performance bottlenecks with evidence, prove fixes by measurement.

import perfdoctor
perfdoctor.instrument()              # capture in this process
with perfdoctor.trace("nightly-job"):
    run_job()
"""

from perfdoctor.capture.auto import flush, instrument, trace, uninstrument
from perfdoctor.model import Finding, Location, Span, Trace

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

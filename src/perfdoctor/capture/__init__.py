"""Capture: produce traces and spans from a running application."""

from perfdoctor.capture.auto import instrument, is_instrumented, trace, uninstrument

__all__ = ["instrument", "is_instrumented", "trace", "uninstrument"]

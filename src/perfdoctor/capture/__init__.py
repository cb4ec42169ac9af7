"""Capture: produce traces and spans from a running application."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perfdoctor.capture.auto import instrument, is_instrumented, trace, uninstrument

__all__ = ["instrument", "is_instrumented", "trace", "uninstrument"]

# Imported on first use, as the package's own are (see perfdoctor/__init__.py): a
# module of this package that the analysis reads (response.py's paging names)
# does not bring in all of capture.
_AUTO = frozenset(__all__)


def __getattr__(name: str) -> Any:
    if name in _AUTO:
        from perfdoctor.capture import auto

        value = getattr(auto, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Capture: produce traces and spans from a running application."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perfdoctor.capture.auto import instrument, is_instrumented, trace, uninstrument

__all__ = ["instrument", "is_instrumented", "trace", "uninstrument"]

# Imported on first use, as the package's own are (see perfdoctor/__init__.py): a
# module of this package that the analysis reads (response.py's paging names)
# does not bring in all of capture.
_AUTO = frozenset(__all__)


def from_auto(name: str, names: frozenset[str], namespace: dict[str, Any], module: str) -> Any:
    """A module's ``__getattr__``: ``name`` from ``capture.auto`` if it is one of
    ``names``, imported now and kept in the module's ``namespace``."""
    if name in names:
        from perfdoctor.capture import auto

        value = getattr(auto, name)
        namespace[name] = value
        return value
    raise AttributeError(f"module {module!r} has no attribute {name!r}")


def __getattr__(name: str) -> Any:
    return from_auto(name, _AUTO, globals(), __name__)

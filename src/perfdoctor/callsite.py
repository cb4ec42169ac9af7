"""Which frame is the user's: the first one not in the standard library,
site-packages, a framework, or perfdoctor itself.

Classification is cached per file name, so the hot path is a dict lookup per
frame.  The bundled demo app lives inside the perfdoctor package but is the
user's code as far as reports are concerned.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from types import CodeType, FrameType

USER = "user"
SKIP = "skip"

# site-packages folders whose frames name the library that issued an operation.
FRAMEWORKS = ("django", "sqlalchemy", "flask", "starlette", "fastapi", "werkzeug")

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_DEMO_DIR = _PACKAGE_DIR + "demo" + os.sep


def _library_roots() -> tuple[str, ...]:
    roots: set[str] = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(os.path.realpath(path) + os.sep)
            roots.add(os.path.abspath(path) + os.sep)
    for prefix in (sys.base_prefix, sys.prefix, sys.exec_prefix):
        lib = os.path.join(prefix, "lib") + os.sep
        roots.add(lib)
    return tuple(sorted(roots))


_LIBRARY_ROOTS = _library_roots()
_cache: dict[str, str] = {}


def classify(filename: str) -> str:
    """USER, SKIP, or the name of the framework the file belongs to."""
    kind = _cache.get(filename)
    if kind is None:
        kind = _classify(filename)
        _cache[filename] = kind
    return kind


def _classify(filename: str) -> str:
    if not filename or filename.startswith("<"):
        return SKIP
    path = os.path.abspath(filename)
    if path.startswith(_DEMO_DIR):
        return USER
    if path.startswith(_PACKAGE_DIR):
        return SKIP
    parts = path.split(os.sep)
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            index = parts.index(marker)
            top = parts[index + 1] if index + 1 < len(parts) else ""
            return top if top in FRAMEWORKS else SKIP
    if path.startswith(_LIBRARY_ROOTS):
        return SKIP
    return USER


RawFrame = tuple[CodeType, int]


def capture(frame: FrameType | None, depth: int) -> tuple[list[RawFrame], str | None]:
    """User frames (innermost first, at most ``depth``) and the issuing framework.

    The framework is the first one met between the operation and the user's
    frame: Django's ORM for a query Django built, SQLAlchemy for SQLAlchemy's.
    """
    frames: list[RawFrame] = []
    framework: str | None = None
    walked = 0
    while frame is not None and walked < 120:
        code = frame.f_code
        kind = _cache.get(code.co_filename)
        if kind is None:
            kind = classify(code.co_filename)
        if kind is USER or kind == USER:
            frames.append((code, frame.f_lineno))
            if len(frames) >= depth:
                break
        elif not frames and framework is None and kind != SKIP:
            framework = kind
        frame = frame.f_back
        walked += 1
    return frames, framework


def display_path(filename: str) -> str:
    """A path relative to the working directory when the file is under it."""
    try:
        rel = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if rel.startswith("..") else rel

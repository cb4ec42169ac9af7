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

# At most this many frames are looked at, from the operation outwards.
_WALK = range(120)

# Line numbers already seen: instruction offset -> ((code, line), ...).
# ``frame.f_lineno`` decodes the code's line table from its start up to the
# current instruction, so a frame deep into a long function or a module body
# costs microseconds per query.  The line is a function of the code object and
# the offset (``f_lineno`` computes it from nothing else outside a trace
# function's callback), and this lookup costs the same wherever the frame
# stands.  Code objects are told apart by identity, cheaper than hashing them;
# an entry holds its code object, so that identity cannot be reused meanwhile.
_lines: dict[int, tuple[tuple[CodeType, int], ...]] = {}
_MAX_OFFSETS = 10_000
_MAX_CODES_PER_OFFSET = 8


def _new_line(frame: FrameType, code: CodeType, lasti: int) -> int:
    """``frame.f_lineno``, remembered for the next frame at the same place."""
    line = frame.f_lineno
    known = _lines.get(lasti, ())
    if len(known) < _MAX_CODES_PER_OFFSET:
        if len(_lines) >= _MAX_OFFSETS:
            _lines.clear()
        _lines[lasti] = (*known, (code, line))
    return line


def capture(frame: FrameType | None, depth: int) -> tuple[list[RawFrame], str | None]:
    """User frames (innermost first, at most ``depth``) and the issuing framework.

    The framework is the first one met between the operation and the user's
    frame: Django's ORM for a query Django built, SQLAlchemy for SQLAlchemy's.
    """
    # Runs for every captured query, so each frame costs only a few attribute
    # reads and dict probes (``kind == USER`` is also true when ``kind is USER``).
    frames: list[RawFrame] = []
    framework: str | None = None
    kind_of = _cache.get
    lines_at = _lines.get
    for _ in _WALK:
        if frame is None:
            break
        code = frame.f_code
        kind = kind_of(code.co_filename)
        if kind is None:
            kind = classify(code.co_filename)
        if kind == USER:
            lasti = frame.f_lasti
            for known in lines_at(lasti, ()):
                if known[0] is code:
                    line = known[1]
                    break
            else:
                line = _new_line(frame, code, lasti)
            frames.append((code, line))
            if len(frames) >= depth:
                break
        elif not frames and framework is None and kind != SKIP:
            framework = kind
        frame = frame.f_back
    return frames, framework


def display_path(filename: str) -> str:
    """A path relative to the working directory when the file is under it."""
    try:
        rel = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if rel.startswith("..") else rel

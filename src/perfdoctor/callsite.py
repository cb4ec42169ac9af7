"""Which frame is the user's: the first one not in the standard library,
site-packages, a framework, or perfdoctor itself.

Classification is cached per file name, so the hot path is a dict lookup per
frame.  The bundled demo app lives inside the perfdoctor package but is the
user's code as far as reports are concerned.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import sys
import sysconfig
from collections.abc import Iterator
from types import CodeType, FrameType
from typing import Any

from perfdoctor import triggers

USER = "user"
SKIP = "skip"
# A file that may hold a trigger (:mod:`perfdoctor.triggers`): its frames are looked
# at per code object, then count as the kind in ``_underlying``.
TRIGGER = "trigger"

# site-packages folders whose frames name the library that issued an operation.
FRAMEWORKS = ("django", "sqlalchemy", "flask", "starlette", "fastapi", "werkzeug")

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_DEMO_DIR = _PACKAGE_DIR + "demo" + os.sep


def _library_roots() -> tuple[str, ...]:
    roots: set[str] = set()
    # "scripts": the venv's bin/ (gunicorn's console script is no user frame,
    # though a venv made inside the project sits under the project's folder).
    for key in ("stdlib", "platstdlib", "purelib", "platlib", "scripts"):
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
_underlying: dict[str, str] = {}


def classify(filename: str) -> str:
    """USER, SKIP, or the name of the framework the file belongs to."""
    kind = _cache.get(filename) or _hot_kind(filename)
    return _underlying.get(filename, SKIP) if kind is TRIGGER else kind


def _hot_kind(filename: str) -> str:
    """What :func:`capture` sees: :func:`classify`'s answer, or TRIGGER.

    A trigger file is kept out of ``_cache``: :func:`capture` then meets it in the
    branch it already takes for a file not yet classified, and the normal frame
    pays no extra test.
    """
    if filename in _underlying:
        return TRIGGER
    kind = _classify(filename)
    # Library files are SKIP unless they hold a trigger function; a template's
    # compiled code (Jinja2) names the template file, which is not .py.
    library = kind == SKIP and not filename.endswith(triggers.SUFFIXES)
    if not library and not filename.startswith("<") and triggers.is_trigger_file(filename):
        _underlying[filename] = kind
        return TRIGGER
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


# A frame as the hot path records it: the code object and the offset of the
# instruction it stands at.  The line is worked out later, off the request path.
RawFrame = tuple[CodeType, int]
# What a walk answers: the user frames, the framework, the trigger.
_Answer = tuple[list[RawFrame], "str | None", "triggers.RawTrigger | None"]

# At most this many frames are looked at, from the operation outwards.
_WALK_LIMIT = 120
_WALK = range(_WALK_LIMIT)
_getframe = sys._getframe


def capture(
    frame: FrameType | None,
    depth: int,
    anchor: Anchor | None = None,
    start: int = 0,
    framework: str | None = None,
) -> tuple[list[RawFrame], str | None, triggers.RawTrigger | None]:
    """User frames (innermost first, at most ``depth``), the issuing framework and
    the trigger (the innermost serializer field or template line on the way).

    The framework is the first one met between the operation and the user's
    frame: Django's ORM for a query Django built, SQLAlchemy for SQLAlchemy's.

    ``anchor``: the trace's :class:`Anchor`, so that the frames outside the one
    that opened the trace are walked once per trace rather than once per query.
    ``start`` and ``framework``: ``frame`` is that many frames from the operation,
    and the frames before it were library frames issuing for that framework
    (:func:`capture_caller`).
    """
    # Runs for every captured query, so each frame costs only a few attribute
    # reads and a dict probe.  ``frame.f_lineno`` is not read here: in CPython it
    # decodes the line table from the start of the code up to the instruction,
    # microseconds deep into a long function; :func:`line_of` does it once per
    # call site in the recorder's thread.
    frames: list[RawFrame] = []
    trigger: triggers.RawTrigger | None = None
    kind_of = _cache.get
    stop = anchor.frame if anchor is not None else None
    for step in _WALK if not start else range(start, _WALK_LIMIT):
        if frame is None:
            break
        code = frame.f_code
        kind = kind_of(code.co_filename)
        if kind is None:
            kind = _hot_kind(code.co_filename)
            if kind is TRIGGER:
                # Only frames of a few library files (and templates) get here.
                found = triggers.recognise(frame, code)
                if found is None:
                    kind = _underlying.get(code.co_filename, SKIP)
                else:
                    if trigger is None:
                        trigger = triggers.extract(
                            found, frame, len(frames), anchor.names if anchor is not None else None
                        )
                    kind = SKIP  # a template's frame is not a line of the user's code
        if kind == USER:
            frames.append((code, frame.f_lasti))
            if len(frames) >= depth:
                break
        elif not frames and framework is None and kind != SKIP:
            framework = kind
        if frame is stop and anchor is not None:
            outer = anchor.outer()
            if outer is not None:
                return _join(frames, framework, trigger, outer, step + 1, depth)
            stop = None
        frame = frame.f_back
    return frames, framework, trigger


# A walk remembered by where it went (see :func:`capture_caller`): the user frames
# found, each as (steps from the operation, code, instruction offset); how many
# steps away the trace's anchor was (-1: the walk stopped at the depth limit
# before it; -n - 1: the stack ended n steps away, with no usable anchor met);
# the framework met before the first user frame; and the trigger frame, if any,
# as (steps, code, trigger kind, user frames inside it, and the code and
# instruction of the frame it called: None and -1 when it is the operation's own
# frame): the names it records are read from that frame again each time.
# The path ends with the depth it was walked with, the frames it records (one
# list, shared by every span of the path: nothing changes a span's frames) and
# its user frames after the first (the first is the one its site found it by);
# whether the anchor is a frame of its own to take (not its last user frame); last,
# the user frames to look up when the site itself is all that is known (all of
# them, but for a first one that is the issuing frame: the site's key).
_Trigger = tuple[int, CodeType, str, int, "CodeType | None", int]
_Path = tuple[
    tuple[tuple[int, CodeType, int], ...], int, "str | None", "_Trigger | None", int,
    "list[RawFrame]", tuple[tuple[int, CodeType, int], ...], bool,
    tuple[tuple[int, CodeType, int], ...],
]
_Known = list[tuple[CodeType, _Path]]
# A path a site answered, ready for the first try (_Site.hot): the depth it was
# walked with, the user frames to look up (_Path's last), the anchor's distance (as
# _Path's), the anchor its answer was joined with (None for a path that does not
# end at one), whether the anchor is a frame of its own to take, the trigger frame,
# the answer (with no trigger: a trigger's names are read from its frame each
# time); the site's first user frames that must not be where they were (each
# distance with its table of _Site.by_first: a path with no user frame, at a site
# that has paths with some, is taken only where none of those is found, as
# _search takes it); and the anchor's distance to keep as _Site.last when it
# answers (a path with no user frame that ends at the anchor), else None.
_Hot = tuple[
    int, tuple[tuple[int, CodeType, int], ...], int, "Anchor | None", bool,
    "_Trigger | None", "_Answer", "tuple[tuple[int, dict[tuple[int, int], _Known]], ...]",
    "int | None",
]
_MAX_SITES = 5_000
# Paths tried per first user frame (the same line reached through different
# library frames: a queryset iterated, counted, sliced): a miss costs a frame.
_MAX_PATHS_PER_SITE = 8
# Paths remembered per operation site, all first user frames together: past it
# the site starts again (a generic helper called from thousands of lines).
_MAX_PATHS_PER_ISSUER = 512
# Paths the first try holds per site: ahead, the paths with no user frame expected
# next (a page's framework queries come in the same order every request, a loop's
# rows repeat theirs), up to _HOT_AT_A_DISTANCE at each of the _HOT_AHEAD anchor
# distances that followed last time; then the one answered last, and those held
# before it. A miss costs a frame or two; a path past all of them, _search (about
# 6 us a query on a CMS page).
_HOT_PER_SITE = 8
_HOT_AHEAD = 4
_HOT_AT_A_DISTANCE = 2


class _Site:
    """The paths remembered for one operation site, by their first user frame.

    An ORM issues every query from one frame (Django's ``CursorWrapper._execute``),
    so a page's dozen query lines are a dozen paths of one site: tried in turn,
    each miss would build a frame object, and a short list of the newest would
    forget the others before the next request (a real app's dashboard walked 10
    of its 13 queries again every request).  Looked up instead by the frame at
    each distance a path's first user frame was found: a frame and a dict
    lookup per distinct distance.
    """

    __slots__ = (
        "absent", "after", "bare", "bare_at", "bare_steps", "by_first", "code", "count",
        "first_step", "hot", "last", "steps",
    )

    def __init__(self, code: CodeType) -> None:
        # Held, so that the id in the site's key is not reused while remembered.
        self.code = code
        # Distances of first user frames, in the order first seen; replaced, not
        # changed in place: another thread may be reading it.
        self.steps: tuple[int, ...] = ()
        self.by_first: dict[int, dict[tuple[int, int], _Known]] = {}
        # Paths with no user frame that end at the trace's anchor, by its distance
        # (distances in the order first seen): a framework's own queries (a CMS
        # routing a page, rendering its templates) are a dozen such paths a page,
        # which one short list would forget every request.
        self.bare_steps: tuple[int, ...] = ()
        self.bare_at: dict[int, _Known] = {}
        # Other paths with no user frame (the depth or the stack's end first).
        self.bare: _Known = []
        self.count = 0
        # The user distance found last, tried first (-1: none yet). Moving each one
        # found to the front of ``steps`` instead rebuilt a tuple whenever two
        # alternated.
        self.first_step = -1
        # The anchor distance found by the previous bare path -> the one found by
        # the bare path after it last time: a page's queries come in the same order
        # every request, so this is the distance to try first. Moving each one
        # found to the front rebuilt a tuple on nearly every query of a CMS page
        # (its 16 anchor distances alternate), and scanned half of them.
        self.after: dict[int, int] = {}
        self.last = -1
        # The paths answered last and expected next, with their answers, checked
        # before any lookup (see _HOT_PER_SITE).  Replaced whole, never changed.
        self.hot: tuple[_Hot, ...] | None = None
        # The site's first user frames as _Hot lists them (see _absent), made once
        # per set of paths: one object, so the compiled first try checks it once
        # per operation whichever held path it tries.
        self.absent: tuple[tuple[int, dict[tuple[int, int], _Known]], ...] | None = None

    def add(self, code: CodeType, path: _Path) -> None:
        users = path[0]
        if self.count >= _MAX_PATHS_PER_ISSUER:
            self.steps, self.by_first, self.bare, self.count = (), {}, [], 0
            self.bare_steps, self.bare_at, self.after, self.first_step = (), {}, {}, -1
        self.count += 1
        # A new path goes first where the lookups below would try it.
        self.hot = self.absent = None
        if not users:
            anchor_step = path[1]
            if anchor_step < 0:
                self.bare = [(code, path), *self.bare[: _MAX_PATHS_PER_SITE - 1]]
                return
            known = self.bare_at.get(anchor_step)
            if known is None:
                self.bare_steps = (*self.bare_steps, anchor_step)
                known = []
            self.bare_at[anchor_step] = [(code, path), *known[: _MAX_PATHS_PER_SITE - 1]]
            return
        step, user_code, offset = users[0]
        table = self.by_first.get(step)
        if table is None:
            table = self.by_first[step] = {}
            self.steps = (*self.steps, step)
        key = (id(user_code), offset)
        known = table.get(key, [])
        # Newest first, the last one dropped: a path found again moves to the
        # front (_promote), so what goes is the one found least recently.
        table[key] = [(code, path), *known[: _MAX_PATHS_PER_SITE - 1]]


# (code id, offset) of the frame that issued the operation -> its paths (the
# paths hold their user frames' code objects, so those ids are not reused either).
_paths: dict[tuple[int, int], _Site] = {}


def capture_caller(
    skip: int, depth: int, anchor: Anchor | None = None, names: bool = True
) -> tuple[list[RawFrame], str | None, triggers.RawTrigger | None]:
    """:func:`capture` from the frame ``skip`` levels above the caller (as
    ``sys._getframe(skip)`` there), without walking a path seen before.

    In CPython 3.11+ a frame object is built the first time Python code asks for
    it (``f_back``), and the frame's data is copied into it when the function
    returns; a walk through an ORM's frames (10-15 per Django query) pays both
    for every frame, every query, and the frames of the request handler around
    the view are cold in the CPU's caches by then.  ``sys._getframe(n)`` goes up
    ``n`` levels in C without building the frames in between.  So a walk is
    remembered by the frames it recorded: the frame that issued the operation
    (code and instruction), each user frame with its distance from it (code and
    instruction), and the distance to the trace's anchor.  When all of these
    are found again where they were (the anchor being the very frame object),
    the frames in between are taken to be the same library frames as before,
    and the answer is the same; where the walk reached the bottom of the stack
    (a worker thread, an anchor that is a coroutine), the stack must end at the
    same distance.  That can only be wrong if a different chain of
    library frames of the same length joins the same call instructions with a
    user frame in it (a user's subclass method replacing a library method one
    for one, for some of the calls made from one line).  A trigger's names are
    read again from its frame (found the same way); with ``names`` false (a span
    that keeps no trigger: a cache call's) they may be left out.
    """
    try:
        first = _getframe(skip + 1)
    except ValueError:
        return [], None, None
    key = (id(first.f_code), first.f_lasti)
    site = _paths.get(key)
    base = skip + 1
    if site is not None:
        hots = site.hot
        if hots is not None:
            for hot in hots:
                # One frame deeper there, as for _search below.
                found = _try_hot(hot, first, base + 1, depth, anchor, names, site)
                if found is not None:
                    return found
    # One frame deeper there: the same frames are one level further.
    return _search(first, key, site, base + 1, depth, anchor, names)


def _try_hot(
    hot: _Hot,
    first: FrameType,
    base: int,
    depth: int,
    anchor: Anchor | None,
    names: bool,
    site: _Site,
) -> tuple[list[RawFrame], str | None, triggers.RawTrigger | None] | None:
    """A path held for the first try: its answer where its frames are found again
    (its user frames where they were, none of the site's where they must not be,
    then its end), else None."""
    hot_depth, checks, anchor_step, hot_anchor, own, trigger_at, hot_answer, absent, last = hot
    if hot_depth != depth:
        return None
    try:
        frame = first
        for step, user_code, offset in checks:
            frame = _getframe(base + step)
            if frame.f_code is not user_code or frame.f_lasti != offset:
                return None
        if anchor_step < 0:
            # The depth limit, or the bottom of the thread's stack there.
            if anchor_step == -1 or _getframe(base - anchor_step - 2).f_back is None:
                return hot_answer if _none_there(absent, base + 1) else None
            return None
        # The answer was joined with this very anchor (so it is not None).
        if hot_anchor is not anchor or (
            _getframe(base + anchor_step) if own else frame
        ) is not anchor.frame:  # type: ignore[union-attr]
            return None
        # Last, as the costliest check.
        if not _none_there(absent, base + 1):
            return None
        if trigger_at is None:
            answer = hot_answer
        else:
            trigger_frame = _trigger_frame(trigger_at, base + 1, first)
            if trigger_frame is None:
                return None
            if not names:
                answer = hot_answer
            else:
                answer = (
                    hot_answer[0],
                    hot_answer[1],
                    triggers.extract(
                        trigger_at[2],
                        trigger_frame,
                        trigger_at[3],
                        anchor.names,  # type: ignore[union-attr]
                    ),
                )
        if last is not None:
            site.last = last
        return answer
    except ValueError:  # a shallower stack than the path's
        return None


def _none_there(
    absent: tuple[tuple[int, dict[tuple[int, int], _Known]], ...], base: int
) -> bool:
    """No first user frame of the site where ``absent`` lists them (see _Hot).
    ``base``: ``sys._getframe(base)`` here is the operation's frame (its callers
    pass their own base plus one: this frame is one deeper)."""
    for step, table in absent:
        try:
            frame = _getframe(base + step)
        except ValueError:  # a shallower stack: no user frame there
            continue
        if (id(frame.f_code), frame.f_lasti) in table:
            return False
    return True


def _hold(
    site: _Site,
    path: _Path,
    anchor: Anchor | None,
    answer: _Answer,
    anchored: bool,
) -> None:
    """Hold the path just answered for the first try, and ahead of it the paths
    with no user frame expected next: those at the anchor distances that followed
    this one last time (the site's ``after``), nearest first, up to two a distance
    (an ``{% if %}``'s own query and one inside it end at the same distance)."""
    absent = _absent(site) if not path[0] else ()
    held: list[_Hot] = []
    if anchored and anchor is not None:
        step = path[1]
        for _ in range(_HOT_AHEAD):
            step = site.after.get(step, -1)
            known = site.bare_at.get(step) if step >= 0 else None
            if not known:
                break
            for _code, following in known[:_HOT_AT_A_DISTANCE]:
                if following is path or following[4] != path[4]:
                    continue
                joined = anchor.joined(following)
                if joined is not None:
                    held.append(_held(following, anchor, joined, absent, True))
    held.append(_held(path, anchor, answer, absent, anchored))
    kept: list[_Hot] = []
    answers: set[int] = set()
    for hot in (*held, *(site.hot or ())):
        # Another trace's paths are of no use to this one.
        if hot[3] is anchor and id(hot[6]) not in answers:
            answers.add(id(hot[6]))
            kept.append(hot)
            if len(kept) >= _HOT_PER_SITE:
                break
    site.hot = tuple(kept)


def _absent(site: _Site) -> tuple[tuple[int, dict[tuple[int, int], _Known]], ...]:
    absent = site.absent
    if absent is None:
        by_first = site.by_first
        absent = site.absent = tuple(
            (step, by_first[step]) for step in site.steps if step in by_first
        )
    return absent


def _held(
    path: _Path,
    anchor: Anchor | None,
    answer: _Answer,
    absent: tuple[tuple[int, dict[tuple[int, int], _Known]], ...],
    anchored: bool,
) -> _Hot:
    """``path`` as the first try checks it (see _Hot)."""
    anchor_step = path[1]
    return (
        path[4], path[8], anchor_step, anchor if anchor_step >= 0 else None, path[7], path[3],
        answer, absent, anchor_step if anchored else None,
    )


def _search(
    first: FrameType,
    key: tuple[int, int],
    site: _Site | None,
    base: int,
    depth: int,
    anchor: Anchor | None,
    names: bool,
) -> tuple[list[RawFrame], str | None, triggers.RawTrigger | None]:
    """:func:`capture_caller` past the path found last: the site's paths looked up
    by first user frame (or by the anchor's distance), else the walk, learnt.

    A function of its own so that the one above, run for every operation, has a
    frame of few locals to set up and clear.  ``base``: ``sys._getframe(base)``
    here is the frame that issued the operation, ``first``.
    """
    known = None
    found_at = first
    # Found by the anchor's distance: each of those paths ends there, so the anchor
    # is not looked for again.
    anchored = False
    if site is not None:
        # The paths whose first user frame is where the current stack has it, looked
        # up by the frame at each distance a first user frame was found at.
        by_first = site.by_first
        tried = site.first_step
        if tried >= 0:
            try:
                found_at = _getframe(base + tried) if tried else first
                table = by_first.get(tried)  # None: the site started again meanwhile
                known = table.get((id(found_at.f_code), found_at.f_lasti)) if table else None
            except ValueError:  # a shallower stack
                pass
        if known is None:
            for step in site.steps:
                if step == tried:
                    continue
                try:
                    found_at = _getframe(base + step) if step else first
                except ValueError:  # a shallower stack
                    continue
                table = by_first.get(step)
                known = table.get((id(found_at.f_code), found_at.f_lasti)) if table else None
                if known is not None:
                    site.first_step = step
                    break
            else:
                found_at = first  # a bare path has no user frame: checked from the first
                if anchor is not None and site.bare_steps:
                    # Paths ending at the anchor, by where the anchor is on this
                    # stack; looked for only once no user frame was found, so that
                    # a known user path is never taken for a bare one.
                    stop = anchor.frame
                    last = site.last
                    guess = site.after.get(last, -1)
                    if guess >= 0:
                        try:
                            if _getframe(base + guess) is stop:
                                known = site.bare_at.get(guess)
                        except ValueError:  # a shallower stack
                            pass
                    if known is not None:
                        anchored = True
                        site.last = guess
                    else:
                        for step in site.bare_steps:
                            if step == guess:
                                continue
                            try:
                                if _getframe(base + step) is not stop:
                                    continue
                            except ValueError:  # a shallower stack
                                continue
                            known = site.bare_at.get(step)
                            if known is not None:
                                anchored = True
                                site.after[last] = site.last = step
                            break
                if known is None:
                    known = site.bare or None
    if known is not None:
        # Each step below is paid by every query: no call, attribute read or
        # tuple that can be spared (a path is checked in well under a µs).
        for _code, path in known:
            if path[4] != depth:
                continue
            try:
                # The first user frame is the one the path was found by (its code
                # object held by the path, so an equal id is the same code).
                frame = found_at
                for step, user_code, offset in path[6]:
                    frame = _getframe(base + step)
                    if frame.f_code is not user_code or frame.f_lasti != offset:
                        break
                else:
                    anchor_step = path[1]
                    trigger_at = path[3]
                    if trigger_at is None:  # no trigger frame: the common case, here
                        if anchor_step >= 0:
                            if anchor is None:
                                continue
                            # The anchor is often the last user frame checked (a
                            # ``with perfdoctor.trace()`` in the user's function).
                            if anchored:
                                pass
                            elif path[7]:
                                if _getframe(base + anchor_step) is not anchor.frame:
                                    continue
                            elif frame is not anchor.frame:
                                continue
                            if known[0][1] is not path:
                                _promote(known, path)
                            found = anchor._joined.get(id(path))
                            joined: _Answer | None
                            if found is not None and found[0] is path:
                                joined = found[1]
                            else:
                                joined = anchor.joined(path)
                                if joined is None:
                                    continue
                            if site is not None:
                                _hold(site, path, anchor, joined, anchored)
                            return joined
                        if anchor_step == -1 or (
                            # The bottom of the thread's stack there (a worker
                            # thread's): the frame before it is the last one.
                            _getframe(base - anchor_step - 2).f_back is None
                        ):
                            if known[0][1] is not path:
                                _promote(known, path)
                            ended = path[5], path[2], None
                            if path[0] and site is not None:
                                _hold(site, path, None, ended, False)
                            return ended
                        continue
                    elif anchor_step >= 0:
                        # A trigger frame inside the anchor (a DRF list's row queries):
                        # _answer's check, without the call.
                        trigger_frame = _trigger_frame(trigger_at, base + 1, first)
                        if (
                            trigger_frame is None
                            or anchor is None
                            or not (anchored or _getframe(base + anchor_step) is anchor.frame)
                        ):
                            continue
                        found = anchor._joined.get(id(path))
                        if found is not None and found[0] is path:
                            joined = found[1]
                        else:
                            joined = anchor.joined(path)
                            if joined is None:
                                continue
                        if known[0][1] is not path:
                            _promote(known, path)
                        if site is not None:
                            _hold(site, path, anchor, joined, anchored)
                        if not names:
                            return joined[0], joined[1], None
                        return (
                            joined[0],
                            joined[1],
                            triggers.extract(
                                trigger_at[2], trigger_frame, trigger_at[3], anchor.names
                            ),
                        )
                    # One frame deeper there: the same frames are one level further.
                    answer = _answer(first, base + 1, path, anchor)
                    if answer is not None:
                        if known[0][1] is not path:
                            _promote(known, path)
                        return answer
            except ValueError:  # a shallower stack than the path's
                continue
    frames, framework, trigger = capture(first, depth, anchor)
    learnt = _learn(first, depth, anchor, framework)
    if learnt is not None:
        _remember(key, first.f_code, learnt)
    return frames, framework, trigger


def _promote(known: _Known, path: _Path) -> None:
    """Move ``path`` to the front of ``known``, where the next query tries it first.

    Several paths of one first user frame alternate within a request (a DRF list's
    own query, then one per row from the same frames): the one found last is
    likeliest next, and each path tried before it costs a check.  Two items are
    swapped in place, with no thread switch possible between the two stores.
    """
    for index, entry in enumerate(known):
        if entry[1] is path:
            known[0], known[index] = entry, known[0]
            return


def _answer(
    first: FrameType, base: int, path: _Path, anchor: Anchor | None
) -> tuple[list[RawFrame], str | None, triggers.RawTrigger | None] | None:
    """A remembered path whose user frames were found where they were: its answer,
    if the rest (trigger frame, bottom of the stack, anchor) is found again too.

    ``base``: ``sys._getframe(base)`` here is the frame that issued the operation.
    May raise ValueError (a shallower stack).
    """
    _users, anchor_step, framework, trigger_at, _depth, path_frames, _rest, _own, _checks = path
    trigger_frame = None
    if trigger_at is not None:
        trigger_frame = _trigger_frame(trigger_at, base + 1, first)
        if trigger_frame is None:
            return None
    # The trigger's names are read last, once the whole path is known to be this
    # one: several paths of one site can share their user frames (a DRF list's
    # own query and its rows' queries, from the same Django frame), and reading
    # the names costs more than the rest of the check.
    frames: list[RawFrame]
    if anchor_step == -1:
        frames = path_frames
    elif anchor_step < -1:
        # The stack ended there: the frame before is the last one.
        if _getframe(base - anchor_step - 2).f_back is not None:
            return None
        frames = path_frames
    else:
        stop = anchor.frame if anchor is not None else None
        if anchor is None or stop is None or _getframe(base + anchor_step) is not stop:
            return None
        joined = anchor.joined(path)
        if joined is None:
            return None
        frames, framework = joined[0], joined[1]
    trigger = None
    if trigger_at is not None and trigger_frame is not None:
        names = anchor.names if anchor is not None else None
        trigger = triggers.extract(trigger_at[2], trigger_frame, trigger_at[3], names)
    return frames, framework, trigger


def _trigger_frame(trigger_at: _Trigger, base: int, first: FrameType) -> FrameType | None:
    """A path's trigger frame on this stack, or None where it is not the one.

    The frame at the trigger's distance must run the trigger's code, and the frame
    it called must stand at the instruction it stood at: every Django template
    node renders through one function, so on another stack a node further out can
    stand at that distance while the query came from a node inside it (Wagtail's
    bakery demo: an ``{% if %}``'s own query learnt, then a ``{% for %}`` inside it
    read as the ``{% if %}``'s line). That outer node is then rendering its
    children, at another instruction than where it queried.  ``base``:
    ``sys._getframe(base)`` here is the operation's frame (its callers pass their
    own base plus one: this frame is one deeper).  May raise ValueError (a
    shallower stack).
    """
    step = trigger_at[0]
    if not step:
        return first if first.f_code is trigger_at[1] else None
    frame = _getframe(base + step)
    if frame.f_code is not trigger_at[1]:
        return None
    called = _getframe(base + step - 1) if step > 1 else first
    if called.f_code is not trigger_at[4] or called.f_lasti != trigger_at[5]:
        return None
    return frame


def _learn(
    frame: FrameType | None, depth: int, anchor: Anchor | None, framework: str | None
) -> _Path | None:
    """The path :func:`capture` just walked from ``frame``, as :func:`capture_caller`
    checks it, or None when it is not one to remember."""
    stop = anchor.frame if anchor is not None else None
    users: list[tuple[int, CodeType, int]] = []
    trigger_at: _Trigger | None = None
    inner: FrameType | None = None  # the frame this one called
    for step in _WALK:
        if frame is None:
            # The bottom of the thread's stack (a worker thread's, or past an
            # anchor that is a coroutine): -(steps to it) - 1.
            if not step:
                return None
            return _path(users, -step - 1, framework, trigger_at, depth)
        code = frame.f_code
        kind = _cache.get(code.co_filename)
        if kind is None:  # a trigger file (the walk has classified every other one)
            found = triggers.recognise(frame, code)
            if found is None:
                kind = _underlying.get(code.co_filename, SKIP)
            else:
                if trigger_at is None:
                    trigger_at = (
                        step, code, found, len(users),
                        inner.f_code if inner is not None else None,
                        inner.f_lasti if inner is not None else -1,
                    )
                kind = SKIP
        if kind == USER:
            users.append((step, code, frame.f_lasti))
            if len(users) >= depth:
                return _path(users, -1, framework, trigger_at, depth)
        if frame is stop:
            if anchor is not None and anchor.outer() is not None:
                return _path(users, step, framework, trigger_at, depth)
            stop = None  # walked through, as capture() does
        inner = frame
        frame = frame.f_back
    return None


def _path(
    users: list[tuple[int, CodeType, int]],
    anchor_step: int,
    framework: str | None,
    trigger_at: _Trigger | None,
    depth: int,
) -> _Path:
    found = tuple(users)
    frames = [(code, offset) for _, code, offset in users]
    own_anchor = not users or users[-1][0] != anchor_step
    checks = found[1:] if users and not users[0][0] else found
    return found, anchor_step, framework, trigger_at, depth, frames, found[1:], own_anchor, checks


def _remember(key: tuple[int, int], code: CodeType, path: _Path) -> None:
    site = _paths.get(key)
    if site is None:
        if len(_paths) >= _MAX_SITES:
            _paths.clear()
        site = _paths[key] = _Site(code)
    site.add(code, path)


# A code object whose frame can be suspended and resumed from elsewhere: its
# ``f_back`` is not fixed for its life (CO_GENERATOR, CO_COROUTINE, CO_ITERABLE_COROUTINE,
# CO_ASYNC_GENERATOR).
_RESUMABLE = 0x20 | 0x80 | 0x100 | 0x200

# ``with`` on a ``@contextmanager`` function runs its generator from this frame.
_CONTEXTMANAGER_ENTER = contextlib._GeneratorContextManager.__enter__.__code__


def anchor_frame(frame: FrameType) -> FrameType:
    """The frame that runs for as long as a trace opened from ``frame`` does.

    A trace opened inside the user's own ``@contextmanager`` function (a job
    runner's ``with task_scope(name):``) is opened from a generator: suspended at
    its ``yield`` while the ``with`` block runs, so never on a query's stack and
    no anchor at all.  The frame holding the ``with`` runs for the whole block
    instead (an ``async with`` holder is a coroutine, left as it is).
    """
    while frame.f_code.co_flags & 0x20:  # CO_GENERATOR
        caller = frame.f_back
        if caller is None or caller.f_code is not _CONTEXTMANAGER_ENTER:
            break
        holder = caller.f_back
        if holder is None:
            break
        frame = holder
    return frame


# What lies outside an anchor: user frames and the framework, each with its
# distance from the anchor's caller, so the walk's limit applies as before.
_Outer = tuple[list[tuple[int, RawFrame]], "tuple[int, str] | None"]


class Anchor:
    """The frame that opened a trace, and what lies outside it, found once.

    While that frame runs, every frame outside it is suspended in a call and
    stays where it is (an outer generator cannot yield while a frame it called
    runs), so the user frames and framework out there are the same for every
    query of the trace: the per-query walk stops at the anchor.  It is not
    trusted when the anchor itself can be suspended and resumed from elsewhere
    (a generator or coroutine), nor when a trigger file lies outside (its
    extraction depends on what is inside).  The trace holds the anchor only
    while it runs.
    """

    __slots__ = ("_joined", "_outer", "_state", "frame", "names")

    def __init__(self, frame: FrameType) -> None:
        self.frame: FrameType | None = frame
        self._outer: _Outer | None = None
        self._state = 0  # 0: not yet walked, 1: usable, -1: not usable
        # id of a remembered path -> (the path, its answer: its frames joined with
        # what lies outside, and the framework): one per path and trace, shared by
        # its spans.
        self._joined: dict[int, tuple[_Path, _Answer]] = {}
        # The trace's DRF trigger names by field (:func:`triggers.extract`).
        self.names: triggers.Names = {}

    def outer(self) -> _Outer | None:
        if self._state == 0:
            self._outer = _walk_outer(self.frame)
            self._state = 1 if self._outer is not None else -1
        return self._outer

    def joined(self, path: _Path) -> _Answer | None:
        """A remembered path that ends at this anchor, completed with :meth:`outer`:
        the answer of :func:`capture_caller` (no trigger: the caller adds its own)."""
        found = self._joined.get(id(path))
        if found is not None and found[0] is path:
            return found[1]
        outer = self.outer()
        if outer is None:
            return None
        answer = _join(list(path[5]), path[2], None, outer, path[1] + 1, path[4])
        self._joined[id(path)] = (path, answer)
        return answer

    def release(self) -> None:
        self.frame = None
        self._outer = None
        self._joined = {}
        self.names = {}
        self._state = -1


def _walk_outer(anchor: FrameType | None) -> _Outer | None:
    if anchor is None or anchor.f_code.co_flags & _RESUMABLE:
        return None
    users: list[tuple[int, RawFrame]] = []
    framework: tuple[int, str] | None = None
    frame = anchor.f_back
    for offset in _WALK:
        if frame is None:
            break
        code = frame.f_code
        kind = _cache.get(code.co_filename) or _hot_kind(code.co_filename)
        if kind is TRIGGER:
            # A script without .py (a console entry point) lands here too.
            if triggers.recognise(frame, code) is not None:
                return None
            kind = _underlying.get(code.co_filename, SKIP)
        if kind == USER:
            users.append((offset, (code, frame.f_lasti)))
        elif not users and framework is None and kind != SKIP:
            framework = (offset, kind)
        frame = frame.f_back
    return users, framework


def _join(
    frames: list[RawFrame],
    framework: str | None,
    trigger: triggers.RawTrigger | None,
    outer: _Outer,
    steps: int,
    depth: int,
) -> tuple[list[RawFrame], str | None, triggers.RawTrigger | None]:
    """The inner walk's answer (``steps`` frames long) completed with ``outer``."""
    users, outer_framework = outer
    if (
        not frames
        and framework is None
        and outer_framework is not None
        and steps + outer_framework[0] < len(_WALK)
    ):
        framework = outer_framework[1]
    for offset, raw in users:
        if len(frames) >= depth or steps + offset >= len(_WALK):
            break
        frames.append(raw)
    return frames, framework, trigger


# code object -> (instruction offsets where a line range starts, their lines)
_line_tables: dict[CodeType, tuple[list[int], list[int | None]]] = {}
_MAX_LINE_TABLES = 20_000


def line_of(code: CodeType, offset: int) -> int:
    """The source line of the instruction at ``offset`` (what ``f_lineno`` says)."""
    table = _line_tables.get(code)
    if table is None:
        starts: list[int] = []
        lines: list[int | None] = []
        for start, line in _line_starts(code):
            starts.append(start)
            lines.append(line)
        if len(_line_tables) >= _MAX_LINE_TABLES:
            _line_tables.clear()
        table = _line_tables[code] = (starts, lines)
    starts, lines = table
    index = bisect.bisect_right(starts, offset) - 1
    # An instruction with no line of its own (a jump target in generated code)
    # belongs to the nearest line before it, as in a traceback.
    while index >= 0:
        line = lines[index]
        if line is not None:
            return line
        index -= 1
    return code.co_firstlineno


def _line_starts(code: CodeType) -> Iterator[tuple[int, int | None]]:
    if hasattr(code, "co_lines"):  # Python 3.10+
        for start, _end, line in code.co_lines():
            yield start, line
    else:
        import dis

        yield from dis.findlinestarts(code)


def display_path(filename: str) -> str:
    """A path relative to the working directory when the file is under it."""
    try:
        rel = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if rel.startswith("..") else rel


def compiled(name: str) -> Any:
    """The function ``name`` of the compiled module (``_speedups.c``), where it was
    built for this interpreter and is not turned off (``PERFDOCTOR_PURE_PYTHON=1``);
    None otherwise."""
    if os.environ.get("PERFDOCTOR_PURE_PYTHON") == "1":
        return None
    try:
        from perfdoctor import _speedups
    except ImportError:
        return None
    return getattr(_speedups, name, None)


def _compiled() -> object:
    """The compiled first try, where it was built (for Python 3.11+ with a GIL) and
    is not turned off; None otherwise."""
    found = compiled("capture_caller")
    if found is None:
        return None
    try:
        compiled("bind")(globals(), sys._getframe)
    except Exception:  # pragma: no cover - a module from another perfdoctor
        return None
    return found


# The Python version, kept for the tests that compare the two and for anyone
# who turns the compiled one off.
python_capture_caller = capture_caller
_fast = _compiled()
if _fast is not None:
    capture_caller = _fast  # type: ignore[assignment]

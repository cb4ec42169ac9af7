"""Trace names: ``METHOD /route/{template}``, never the raw path with its ids.

Each router hands over its own template (Flask's rule, Starlette's path, Django's
pattern chain); this module turns them into one spelling, ``/api/posts/{slug}``.
Regex routes (Django ``re_path``, DRF routers) are read with the stdlib's own regex
parser rather than hand-written regexes, so escapes, classes and nesting are
understood the way ``re`` understands them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from perfdoctor.capture import raw_paths

# The stdlib's regex parser (sre_parse before 3.11, a deprecated alias since).
if sys.version_info >= (3, 11):
    import re._parser as _sre  # novermin: the 3.11+ name of sre_parse
else:
    import sre_parse as _sre

# Possessive repeats (a*+) exist from Python 3.11.
_REPEATS = tuple(
    getattr(_sre, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
    if hasattr(_sre, name)
)

_CONVERTER = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")
_TYPED_PARAM = re.compile(r"\{([^:{}]+):[^{}]+\}")
# What a regex piece that matches varying text outside any group reads as.
_WILDCARD = "*"


# The name of a request the app's router matched to no route: one name for every
# such path (scanners, typos, expired links), never the path, which may hold a token.
UNMATCHED = "<unmatched>"


def from_raw_path(path: str) -> str:
    """Fallback when no router told us the template: ids, tokens and e-mails templated."""
    return raw_paths.template(path) or "/"


def from_angle_template(rule: str) -> str:
    """Flask ``/articles/<int:id>`` and Django ``articles/<int:pk>/`` → ``/articles/{id}``."""
    return _rooted(_angles(rule))


def from_brace_template(path: str) -> str:
    """Starlette ``/items/{id:int}`` → ``/items/{id}``."""
    return _TYPED_PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def name(method: str, template: str) -> str:
    return f"{method.upper()} {template}"


def _angles(rule: str) -> str:
    return _CONVERTER.sub(_parameter, rule)


def _parameter(match: re.Match[str]) -> str:
    converter, parameter = match.group(1) or "", match.group(2)
    # DRF's format_suffix_patterns on path() routes: the converter matches ".json",
    # dot included; written as the regex variant reads, "{pk}.{format}".
    dot = "." if converter.startswith("drf_format_suffix") else ""
    return dot + "{" + parameter + "}"


def _rooted(text: str) -> str:
    text = re.sub(r"/{2,}", "/", text)
    return text if text.startswith("/") else "/" + text


class Positional:
    """Names for unnamed regex groups, numbered across a whole pattern chain.

    Django passes unnamed groups to the view as positional arguments, so the view's
    own parameter names (``def archive(request, year)``) read best; without them
    (``*args``, class-based views) the group is ``{arg1}``, ``{arg2}``: the
    argument's position, not a guess such as ``{id}`` for what may be a year.
    """

    def __init__(self, names: Sequence[str] = ()) -> None:
        self.names = list(names)
        self.count = 0

    def next(self) -> str:
        self.count += 1
        if self.count <= len(self.names):
            return self.names[self.count - 1]
        return f"arg{self.count}"


def from_regex(pattern: str, positional: Positional | None = None) -> str:
    """A regex route as a template, without the leading slash.

    ``^posts/(?P<pk>[^/.]+)\\.(?P<format>[a-z0-9]+)/?$`` → ``posts/{pk}.{format}``:
    anchors and optional literals (a trailing ``/?``) go, named groups become their
    name, unnamed ones a positional name, other varying text ``*``.  A pattern the
    parser refuses comes back as written.
    """
    try:
        parsed = _sre.parse(pattern)
    except Exception:
        return pattern
    names = {number: group for group, number in parsed.state.groupdict.items()}
    text = "".join(_render(list(parsed.data), names, positional or Positional()))
    return re.sub(r"\*{2,}", "*", text)


def _render(items: list[Any], names: dict[int, str], positional: Positional) -> Iterator[str]:
    for op, arg in items:
        if op is _sre.LITERAL:
            yield chr(arg)
        elif op is _sre.AT or op in (_sre.ASSERT, _sre.ASSERT_NOT):
            continue
        elif op is _sre.SUBPATTERN:
            group, body = arg[0], arg[-1]
            if group is None:  # (?:...) or flags: its text is the route's
                yield from _render(list(body), names, positional)
            else:
                yield "{" + (names.get(group) or positional.next()) + "}"
        elif op in _REPEATS:
            low, high, body = arg
            inner = "".join(_render(list(body), names, positional))
            literal = "*" not in inner and "{" not in inner
            if low == high and literal:
                yield inner * low
            elif low == 0 and high == 1 and literal:
                continue  # an optional literal, such as a trailing "/?"
            else:
                # A piece holding a parameter reads as the parameter, once.
                yield inner if "{" in inner else _WILDCARD
        elif op is _sre.BRANCH:
            yield "(" + "|".join("".join(_render(list(b), names, positional)) for b in arg[1]) + ")"
        else:  # IN, ANY, NOT_LITERAL, CATEGORY...: one varying character
            yield _WILDCARD


def from_django_patterns(patterns: Sequence[Any], view_parameters: Sequence[str] = ()) -> str:
    """The pattern objects a Django request matched, outermost first, as one template.

    ``path()`` routes are literal text with ``<converter:name>``; ``re_path()`` and
    DRF routers are regexes; ``i18n_patterns`` adds a language prefix, named
    ``{language}`` so every language is one endpoint.
    """
    positional = Positional(view_parameters)
    parts = []
    for pattern in patterns:
        kind = type(pattern).__name__
        if kind == "RegexPattern":
            parts.append(from_regex(str(pattern._regex), positional))
        elif kind == "LocalePrefixPattern":
            parts.append("{language}/" if str(pattern) else "")
        else:
            parts.append(_angles(str(pattern)))
    return _rooted("".join(parts))


def from_django_route(route: str) -> str:
    """Fallback for a Django without ``ResolverMatch.tried``: its joined route string.

    Mixed ``path()`` and regex pieces are all read as a regex; ``<int:pk>`` is
    literal text to the regex parser, and converted after.
    """
    if any(c in route for c in "^$\\(["):
        return from_angle_template(from_regex(route))
    return from_angle_template(route)

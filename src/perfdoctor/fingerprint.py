"""SQL normalisation: literals become ``?`` and lists of any length collapse.

>>> normalize("SELECT * FROM t WHERE id IN (1, 2, 3) AND name = 'bob'").statement
'SELECT * FROM t WHERE id IN (...) AND name = ?'

Two statements that differ only in literal values, placeholder style or the
length of an ``IN``/``VALUES`` list share one fingerprint.  Results are cached by
statement text, and the work happens off the request path (in the store's
writer thread and in analysis), so capture itself never parses SQL.

This runs inside the user's app, on whatever interpreter and packages it has, so
it is the standard library only: a scanner that knows where SQL's literals,
quoted names and comments start and end, which is all normalisation needs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

# One alternative per lexical element, tried in this order at each position.
# Backslashes escape only in E'...' strings: Django's ``ESCAPE '\\'`` is a whole string.
# Names and quoted identifiers are matched only to be skipped whole, so the
# digits of ``t1`` or of ``"col 2"`` are never taken for numbers.
_TOKEN = re.compile(
    r"""
    (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<quoted_name>"(?:[^"]|"")*(?:"|\Z)|`(?:[^`]|``)*(?:`|\Z))
    | (?P<string>[Ee]'(?:[^'\\]|''|\\.)*(?:'|\Z)|(?:[NnXxBb]|[Uu]&)?'(?:[^']|'')*(?:'|\Z))
    | (?P<dollar>\$(?P<tag>[A-Za-z_]\w*|)\$.*?(?:\$(?P=tag)\$|\Z))
    | (?P<placeholder>\?|\$\d+|(?<!:):[A-Za-z_]\w*)
    | (?P<name>[A-Za-z_][\w$]*)
    | (?P<number>0[xX][0-9A-Fa-f]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)
    """,
    re.VERBOSE | re.DOTALL,
)
_LITERAL_KINDS = frozenset({"string", "dollar", "placeholder", "number"})
# pyformat (%s, %(name)s) is what Django, psycopg and PyMySQL send.
_PYFORMAT = re.compile(r"%\(\w+\)s|%s")
_TUPLE = r"\(\s*\?(?:\s*,\s*\?)*\s*\)"
# Only IN-lists and VALUES rows collapse: pause(?) keeps its shape.
_IN_LIST = re.compile(r"(\bIN\s*)" + _TUPLE, re.IGNORECASE)
_ROWS = re.compile(r"(\bVALUES\s*)" + _TUPLE + r"(?:\s*,\s*" + _TUPLE + r")*", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Normalized:
    statement: str
    fingerprint: str


def _strip_literals(sql: str) -> str:
    out: list[str] = []
    cursor = 0
    for match in _TOKEN.finditer(sql):
        if match.lastgroup not in _LITERAL_KINDS and match.lastgroup != "tag":
            continue
        out.append(sql[cursor : match.start()])
        out.append("?")
        cursor = match.end()
    out.append(sql[cursor:])
    return "".join(out)


@lru_cache(maxsize=8192)
def normalize(sql: str) -> Normalized:
    """Statement with literals replaced by ``?`` and its fingerprint (16 hex digits)."""
    text = _strip_literals(_PYFORMAT.sub("?", sql))
    text = _SPACE.sub(" ", text).strip()
    text = _IN_LIST.sub(r"\1(...)", text)
    text = _ROWS.sub(r"\1(...)", text)
    digest = hashlib.blake2b(text.lower().encode("utf-8"), digest_size=8).hexdigest()
    return Normalized(text, digest)


@lru_cache(maxsize=8192)
def has_placeholders(sql: str) -> bool:
    """Whether the statement takes parameters (``?``, ``$1``, ``:name``, ``%s``,
    ``%(name)s``): then its text alone does not tell two runs' values apart."""
    if _PYFORMAT.search(sql):
        return True
    return any(match.lastgroup == "placeholder" for match in _TOKEN.finditer(sql))

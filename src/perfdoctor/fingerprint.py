"""SQL normalisation: literals become ``?`` and lists of any length collapse.

>>> normalize("SELECT * FROM t WHERE id IN (1, 2, 3) AND name = 'bob'").statement
'SELECT * FROM t WHERE id IN (...) AND name = ?'

Two statements that differ only in literal values, placeholder style or the
length of an ``IN``/``VALUES`` list share one fingerprint.  Results are cached by
statement text, and the work happens off the request path (in the store's
writer thread and in analysis), so capture itself never parses SQL.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from sqlglot.errors import TokenError
from sqlglot.tokens import Token, Tokenizer, TokenType  # type: ignore[attr-defined]  # re-exported names, not in __all__

_LITERALS = frozenset(
    {
        TokenType.NUMBER,
        TokenType.STRING,
        TokenType.NATIONAL_STRING,
        TokenType.HEX_STRING,
        TokenType.BIT_STRING,
        TokenType.BYTE_STRING,
        TokenType.RAW_STRING,
        TokenType.HEREDOC_STRING,
        TokenType.PLACEHOLDER,
        TokenType.PARAMETER,
    }
)
_QUOTED_KINDS = _LITERALS - {TokenType.NUMBER, TokenType.PLACEHOLDER, TokenType.PARAMETER}
# pyformat (%s, %(name)s) is what Django, psycopg and PyMySQL send; sqlglot would
# read it as a modulo, so it is turned into a qmark first.
_PYFORMAT = re.compile(r"%\(\w+\)s|%s")
_DOLLAR = re.compile(r"^\$\d+$")
_TUPLE = r"\(\s*\?(?:\s*,\s*\?)*\s*\)"
# Only IN-lists and VALUES rows collapse: pause(?) keeps its shape.
_IN_LIST = re.compile(r"(\bIN\s*)" + _TUPLE, re.IGNORECASE)
_ROWS = re.compile(r"(\bVALUES\s*)" + _TUPLE + r"(?:\s*,\s*" + _TUPLE + r")*", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Normalized:
    statement: str
    fingerprint: str


def _is_placeholder(tokens: list[Token], i: int) -> bool:
    token = tokens[i]
    if token.token_type in _LITERALS:
        return True
    if token.token_type == TokenType.VAR and _DOLLAR.match(token.text):
        return True
    # :name (SQLAlchemy, Oracle style), but not the PostgreSQL cast "::type".
    if token.token_type == TokenType.VAR and i > 0:
        before = tokens[i - 1]
        if (
            before.token_type == TokenType.COLON
            and before.end + 1 == token.start
            and not (i > 1 and tokens[i - 2].token_type == TokenType.COLON)
        ):
            return True
    return False


def _strip_literals(sql: str) -> str:
    tokens = Tokenizer().tokenize(sql)
    out: list[str] = []
    cursor = 0
    for i, token in enumerate(tokens):
        if not _is_placeholder(tokens, i):
            continue
        start = token.start
        if (
            token.token_type == TokenType.VAR
            and i > 0
            and tokens[i - 1].token_type == TokenType.COLON
        ):
            start = tokens[i - 1].start
        # Quoted literals report the span of their content; widen to the quotes.
        end = token.end + 1
        if token.token_type in _QUOTED_KINDS:
            while start > cursor and sql[start - 1] in "'\"NnXxBbEe":
                start -= 1
                if sql[start] in "'\"":
                    break
            if end < len(sql) and sql[end] in "'\"":
                end += 1
        if start < cursor:
            continue
        out.append(sql[cursor:start])
        out.append("?")
        cursor = end
    out.append(sql[cursor:])
    return "".join(out)


_QUOTED = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w.\"$])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b")


def _strip_literals_fallback(sql: str) -> str:
    return _NUMBER.sub("?", _QUOTED.sub("?", sql))


@lru_cache(maxsize=8192)
def normalize(sql: str) -> Normalized:
    """Statement with literals replaced by ``?`` and its fingerprint (16 hex digits)."""
    text = _PYFORMAT.sub("?", sql)
    try:
        text = _strip_literals(text)
    except (TokenError, ValueError, IndexError):
        text = _strip_literals_fallback(text)
    text = _SPACE.sub(" ", text).strip()
    text = _IN_LIST.sub(r"\1(...)", text)
    text = _ROWS.sub(r"\1(...)", text)
    digest = hashlib.blake2b(text.lower().encode("utf-8"), digest_size=8).hexdigest()
    return Normalized(text, digest)

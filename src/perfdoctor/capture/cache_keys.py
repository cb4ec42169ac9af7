"""What a cache span keeps of a key and a value: a pattern and keyed digests, never the data.

A key such as ``profile:42`` or ``session:3f2a…`` is stored as ``profile:{id}``
(the pattern a finding can show) plus a keyed digest of the exact key (so a
detector can tell that two requests touched the very same entry).  Values are
only ever digested.

Shared by the redis-py and Django cache integrations, which also share one
guard: while a Django cache operation runs, the redis-py commands it issues on
its behalf are not recorded a second time.
"""

from __future__ import annotations

import contextvars
import functools
import pickle
import re
from typing import Any

from perfdoctor.capture import raw_paths
from perfdoctor.capture.privacy import keyed_digest

_MAX_PATTERN = 200
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}")
_EMAIL = re.compile(r"[^\s:/|@{}]+@[^\s:/|{}]+")
_WORD = re.compile(r"[A-Za-z0-9]+")
# A run of base64url text: a token's ``-`` and ``_`` would otherwise cut it into
# words short enough, and free enough of digits, to be kept as names.
_TOKEN_MIN = raw_paths.RANDOM_MIN_LENGTH
_TOKEN_RUN = re.compile(rf"[A-Za-z0-9_-]{{{_TOKEN_MIN},}}")
_LEADING_WORDS = re.compile(r"(?:[a-z]{2,}[-_])+")
# A word this long is a token, a hash or a session key, not part of a name.
_LONG_WORD = 20

# The Django cache operation running in this context, if any: the names of the
# backend methods it called on itself (get_or_set calls get and add).
cache_operation: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "perfdoctor_cache_operation", default=None
)


def _collapse_word(match: re.Match[str]) -> str:
    word = match.group()
    if len(word) >= _LONG_WORD or any(c.isdigit() for c in word):
        return "{id}"
    return word


def _collapse_token(match: re.Match[str]) -> str:
    run = match.group()
    # Leading lowercase words are the key's own names ("pd-test-", "session_").
    lead = _LEADING_WORDS.match(run)
    prefix = lead.group() if lead else ""
    rest = run[len(prefix) :]
    if len(rest) >= _TOKEN_MIN and raw_paths.placeholder(rest) is not None:
        return prefix + "{id}"
    return run


@functools.lru_cache(maxsize=4096)
def _pattern_of_text(key: str) -> str:
    text = _UUID.sub("{id}", key)
    text = _EMAIL.sub("{id}", text)
    text = _TOKEN_RUN.sub(_collapse_token, text)
    text = _WORD.sub(_collapse_word, text)
    return text if len(text) <= _MAX_PATTERN else text[:_MAX_PATTERN] + "…"


def key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key).decode("utf-8", "replace")
    return str(key)


def key_pattern(key: Any) -> str:
    """``user:42:profile`` → ``user:{id}:profile``: ids, uuids, emails and tokens collapsed.

    >>> key_pattern("user:42:profile")
    'user:{id}:profile'
    """
    return _pattern_of_text(key_text(key))


def key_digest(key: Any) -> str:
    return keyed_digest(key_text(key))


def value_bytes(value: Any) -> bytes | None:
    """The bytes redis stores for ``value`` (redis-py's encoding of a command argument)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, bool):
        return None  # redis-py refuses booleans
    if isinstance(value, (int, float)):
        return repr(value).encode()
    return None


def redis_value_digest(value: Any) -> str | None:
    data = value_bytes(value)
    return None if data is None else keyed_digest(data)


def pickled_digest(value: Any) -> str | None:
    """A digest of a Python value as Django's cache backends store it (pickled).

    Equal values give equal pickles, so the value written during one request and
    the value read back during another compare equal.
    """
    try:
        return keyed_digest(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    except Exception:
        return None

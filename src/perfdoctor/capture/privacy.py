"""Digests that let values be compared without being stored.

Every digest is keyed with a secret that lives only in this process: equal
values (a cache key, a user's session, a query's parameters) give equal
digests within the process, but a stored digest reveals nothing about its value
(an id of 7 cannot be found by hashing 7).
"""

from __future__ import annotations

import hashlib
import secrets

_KEY = secrets.token_bytes(16)


def keyed_digest(value: bytes | str) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(value, key=_KEY, digest_size=8).hexdigest()


def hash_digest(value: int | None) -> str | None:
    """The digest of a Python hash (what capture keeps of a query's parameters)."""
    if value is None:
        return None
    return hashlib.blake2b(
        value.to_bytes(16, "little", signed=True), key=_KEY, digest_size=8
    ).hexdigest()

"""Digests that let values be compared without being stored.

Every digest is keyed with a secret that lives only in this process (or, under
``perfdoctor run``, in the processes of that one run): equal values (a cache
key, a user's session, a query's parameters) give equal digests, but a stored
digest reveals nothing about its value (an id of 7 cannot be found by hashing 7).
"""

from __future__ import annotations

import hashlib
import os
import secrets

# Set by ``perfdoctor run`` (a fresh random key per run): gunicorn's workers then
# digest alike, so a cache entry written by one worker and read by another, or
# one user served by both, is recognised as the same.  Never stored.
ENV_DIGEST_KEY = "PERFDOCTOR_DIGEST_KEY"


def _key() -> bytes:
    try:
        shared = bytes.fromhex(os.environ.get(ENV_DIGEST_KEY, ""))
    except ValueError:
        shared = b""
    return shared if 16 <= len(shared) <= 64 else secrets.token_bytes(16)


_KEY = _key()


def keyed_digest(value: bytes | str) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(value, key=_KEY, digest_size=8).hexdigest()


def keyed_hasher() -> hashlib.blake2b:
    """An incremental keyed digest, for a value that arrives in chunks (a response body)."""
    return hashlib.blake2b(key=_KEY, digest_size=8)


def hash_digest(value: int | None) -> str | None:
    """The digest of a Python hash (what capture keeps of a query's parameters)."""
    if value is None:
        return None
    return hashlib.blake2b(
        value.to_bytes(16, "little", signed=True), key=_KEY, digest_size=8
    ).hexdigest()

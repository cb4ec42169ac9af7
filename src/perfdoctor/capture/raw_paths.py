"""A URL path no router described, as a template that keeps its words and drops its values.

Outbound calls, and inbound requests to an app whose router perfdoctor does not
know, have only the raw path.  Its values are ids (one name per id would defeat
grouping), and some are secrets or personal data (a Slack webhook's token, a
Telegram ``bot<id>:<token>``, an e-mail address, a password-reset token), which
must never reach the store.  Each segment is read on its own:

>>> template("/services/T0123ABCD/B0456EFGH/aBcD1234eFgH5678iJkL9012")
'/services/{id}/{id}/{token}'
>>> template("/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage")
'/{token}/sendMessage'
>>> template("/api/chat.postMessage")
'/api/chat.postMessage'

- ``{email}``: an e-mail address;
- ``{date}``: an ISO date or date-time (a loop over days is one endpoint);
- ``{id}``: numbers (and number-like text: versions, IPs, phone numbers),
  UUIDs, hex strings (object ids, hashes), and words that mix in several
  digits (``T0123ABCD``, ``dQw4w9WgXcQ``);
- ``{token}``: random-looking text of 16 letters and digits or more (see
  :func:`_random`): base64 and base64url tokens, JWTs, and a segment that embeds
  one (``bot123:ABC…``).

Words stay (``/repos/django/django/pulls``, ``/v1/charges``, ``sendMessage``,
``oauth2``, ``sha256``): a reader recognises the endpoint.  What a heuristic
cannot tell from a word stays too: a username, an all-lowercase token.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote

ID = "{id}"
TOKEN = "{token}"
EMAIL = "{email}"
DATE = "{date}"

_EMAIL = re.compile(r"[^@\s/]+@[^@\s/]+\.[A-Za-z]{2,}")
_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}"  # 2024-01-05, then an optional time and zone
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_UUID = re.compile(r"\{?[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}\}?")
_HEX = re.compile(r"(?:0x)?[0-9a-fA-F]{16,}")
# A JWT's header is base64url JSON: it starts with ``{"`` encoded.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# The pieces a camelCase or snake_case name is made of: ``postMessage`` is two.
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_DIGIT_RUNS = re.compile(r"[0-9]+")
# Letters without digits, too short to judge as random: most segments (``api``, ``users``).
_SHORT_NAME = re.compile(r"[A-Za-z_.~-]{1,15}")
# Where a segment embeds a credential or an id: ``bot<id>:<token>``, ``key=<value>``.
_EMBEDDED = re.compile(r"([:=;,])")
# ``42.json``, ``<hash>.png``: a value with a file extension keeps the extension.
_EXTENSION = re.compile(r"(.+)(\.[a-z][a-z0-9]{0,4})")

# Random text of this many letters and digits or more is told from a name by how
# short its pieces are (see _random); below it, a name and a random string are
# too alike to call.
RANDOM_MIN_LENGTH = 16
# camelCase names have pieces of 4+ characters on average (``getChatMemberCount``:
# 4.5); random base62 text about 2 (a case or digit change every other character).
RANDOM_MAX_PIECE = 3.0
# One word this long in one case (no separator, no case change) is judged too.
RANDOM_WORD_MIN_LENGTH = 20
# Acronyms (HTTP, OAUTH) are not words: their letter pairs are not judged.
ACRONYM_MAX_LENGTH = 5
# The letter pairs most common in English words and Python names (the two hundred
# most frequent in English text, and nine in ten of those in the standard
# library's names): random letters hit under a third of them.
_PAIRS = """ab ac ad ag ai ak al am an ap ar as at au av ay ba be bi bj bl bo br bu by ca ce ch
    ci ck cl co cr ct cu da de di do ds du ea ec ed ee ef eg ei el em en ep er es et ev ew
    ex ey fa fe ff fi fo fr fu ga ge gh gi go gr gs ha he hi ho ht ia ib ic id ie if ig il
    im in io ip ir is it iv ke ki la ld le lf li ll lo ls lt lu ly ma me mi mo mp mu na nc
    nd ne nf ng ni no ns nt nu ny ob oc od of ol om on oo op or os ot ou ov ow pa pe pi pl
    po pp pr pt pu qu ra rc rd re rg ri rk rm rn ro rr rs rt ru ry sa sc se sh si so sp ss
    st su sy ta te th ti tl to tr ts tt tu ty ua uc ue ug ui ul um un up ur us ut va ve vi
    wa we wh wi wo wr xc xt yo yp ys yt ze"""
_COMMON_PAIRS = frozenset(_PAIRS.split())
# A name has most of its letter pairs common; text judged on fewer pairs is let be.
NAME_MIN_COMMON_PAIRS = 0.6
NAME_MIN_PAIRS = 6
# A word with this many digits is an id (``T0123ABCD``), not a name (``sha256``).
ID_MIN_DIGITS = 4
# ...or one that switches between letters and digits this often (``dQw4w9WgXcQ``).
ID_MIN_SWITCHES = 3
ID_SWITCH_MIN_LENGTH = 8


def template(path: str) -> str:
    """``path`` with each value segment replaced by its placeholder."""
    return "/".join(segment(s) for s in path.split("/"))


# Segments come back (``api``, ``v1``, one user's id): each is judged once.
@functools.lru_cache(maxsize=4096)
def segment(raw: str) -> str:
    """One path segment, or the placeholder of what it holds."""
    if not raw:
        return raw
    text = unquote(raw) if "%" in raw else raw
    if _EMBEDDED.search(text) and not _DATE.fullmatch(text):
        embedded = _embedded(text)
        if embedded is not None:
            return embedded
    kind = _kind(text)
    return raw if kind is None else kind


def _embedded(text: str) -> str | None:
    """``bot<id>:<token>`` → ``{token}``; ``42:batchGet`` → ``{id}:batchGet``; None when
    no piece is a value (the segment is then judged whole)."""
    pieces = _EMBEDDED.split(text)
    kinds = [_kind(p) if i % 2 == 0 else None for i, p in enumerate(pieces)]
    if TOKEN in kinds:
        # Part of a credential is still a credential: the whole segment goes.
        return TOKEN
    if EMAIL in kinds:
        return EMAIL
    if not any(kinds):
        return None
    return "".join(k or p for k, p in zip(kinds, pieces))


def placeholder(text: str) -> str | None:
    """The placeholder for ``text`` (one whole value, not a path) when it is a value."""
    return _kind(text)


def _kind(text: str) -> str | None:
    """The placeholder for ``text`` when it is a value, else None."""
    if not text or _SHORT_NAME.fullmatch(text):
        return None
    if "@" in text and _EMAIL.fullmatch(text):
        return EMAIL
    if _JWT.match(text):
        return TOKEN
    if not any(c.isalpha() for c in text):
        if _DATE.fullmatch(text):
            return DATE
        return ID if any(c.isdigit() for c in text) else None
    if _UUID.fullmatch(text) or _HEX.fullmatch(text):
        return ID
    if _DATE.fullmatch(text):
        return DATE
    extension = _EXTENSION.fullmatch(text)
    if extension is not None:
        # The stem is judged alone: "MutableLists.html" is a name, its "html" no part of it.
        stem = _kind(extension.group(1))
        return None if stem is None else stem + extension.group(2)
    if _random(text):
        return TOKEN
    if _id_like(text):
        return ID
    return None


def _random(text: str) -> bool:
    """Whether ``text`` reads as random rather than as a name.

    Only text of RANDOM_MIN_LENGTH letters and digits or more is judged, and
    text in one case made of separated words (a slug) never is.  Random text is
    cut into short pieces by case and digit changes (``aBcD1234eFgH5678iJkL9012``
    is 12 pieces in 24 characters; ``getChatMemberCount`` is 4 in 18), or its
    words are spelt with letter pairs that English seldom uses.
    """
    alnum = sum(1 for c in text if c.isascii() and c.isalnum())
    if alnum < RANDOM_MIN_LENGTH:
        return False
    pieces = _WORDS.findall(text)
    if not pieces:
        return False
    classes = (
        any(c.islower() for c in text)
        + any(c.isupper() for c in text)
        + any(c.isdigit() for c in text)
    )
    if classes < 2 and max(len(p) for p in pieces) < RANDOM_WORD_MIN_LENGTH:
        return False
    if alnum / len(pieces) < RANDOM_MAX_PIECE:
        return True
    # Words as written (acronyms such as HTTP or SQL spell no English).
    words = [p.lower() for p in pieces if p[-1].islower() or len(p) >= ACRONYM_MAX_LENGTH + 1]
    pairs = [w[i : i + 2] for w in words for i in range(len(w) - 1)]
    if len(pairs) < NAME_MIN_PAIRS:
        return False
    common = sum(1 for pair in pairs if pair in _COMMON_PAIRS)
    return common < len(pairs) * NAME_MIN_COMMON_PAIRS


def _id_like(text: str) -> bool:
    digits = sum(1 for c in text if c.isdigit())
    if digits == 0:
        return False
    if digits >= ID_MIN_DIGITS:
        return True
    if len(text) < ID_SWITCH_MIN_LENGTH:
        return False
    runs = len(_DIGIT_RUNS.findall(text))
    # Each digit run switches in and (unless at the end) out again.
    switches = 2 * runs - (text[0].isdigit()) - (text[-1].isdigit())
    return switches >= ID_MIN_SWITCHES

"""Raw URL paths: values templated (ids, tokens, e-mails, dates), the endpoint's words kept."""

from __future__ import annotations

import base64
import random
import string

import pytest

from perfdoctor.capture.raw_paths import segment, template
from perfdoctor.capture.routes import from_raw_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/services/T0123ABCD/B0456EFGH/aBcD1234eFgH5678iJkL9012", "/services/{id}/{id}/{token}"),
        ("/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage", "/{token}/sendMessage"),
        ("/users/jane.doe+perf@example.org/profile", "/users/{email}/profile"),
        ("/users/jane.doe%2Bperf%40example.org", "/users/{email}"),
        ("/orders/3f2a9b1c-0d4e-4f60-8182-93a4b5c6d7e8", "/orders/{id}"),
        ("/objects/507f1f77bcf86cd799439011", "/objects/{id}"),  # a MongoDB ObjectId
        ("/invite/xP9_kLm2-QrT8vW3zYb4Nc7Hd6Jf5Gh1Ks0Lp-Zq", "/invite/{token}"),
        ("/blob/SGVsbG8gV29ybGQhIFRoaXMgaXM=", "/blob/{token}"),  # base64
        (
            "/session/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "/session/{token}",
        ),
        ("/reset/MQ/c4z1k9-5e0f2a7b9d13c8e6f4a2b0d9c7e5f3a1/", "/reset/MQ/{token}/"),
        ("/rates/2024-01-05", "/rates/{date}"),
        ("/events/2024-01-05T10:30:00Z", "/events/{date}"),
        ("/items/42.json", "/items/{id}.json"),
        ("/geo/192.168.0.1/json", "/geo/{id}/json"),
        ("/watch/dQw4w9WgXcQ", "/watch/{id}"),
        ("/catalog;jsessionid=0A1B2C3D4E5F60718293A4B5C6D7E8F9", "/catalog;jsessionid={id}"),
    ],
)
def test_values_are_templated(path: str, expected: str) -> None:
    assert template(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/users",
        "/repos/django/django/pulls",
        "/api/chat.postMessage",
        "/api/conversations.history",
        "/v1/charges",
        "/v1/payment_intents",
        "/bot/sendMessage",
        "/getChatMemberCount",
        "/editMessageReplyMarkup",
        "/v1/projects/demo/databases/documents:batchGet",
        "/oauth2/callback",
        "/hash/sha256",
        "/password-reset/confirm",
        "/.well-known/openid-configuration",
        "/static/app.min.js",
        "/docs/MutableLists.html",
        "/v1.0/me",
        "/users/@me",
        "/",
        "",
    ],
)
def test_readable_words_stay(path: str) -> None:
    assert template(path) == path


def test_an_empty_path_is_the_root() -> None:
    assert from_raw_path("") == "/"


def test_a_segment_embedding_a_value_is_templated() -> None:
    assert segment("key=sk_live_4eC39HqLyjWDarjtT1zdp7dc") == "{token}"
    assert segment("user=jane@example.org") == "{email}"
    # Nothing secret embedded: the words stay, an id is templated.
    assert segment("documents:batchGet") == "documents:batchGet"
    assert segment("42:batchGet") == "{id}:batchGet"


def _rate(tokens: list[str]) -> float:
    return sum(segment(t) in ("{token}", "{id}") for t in tokens) / len(tokens)


def test_random_tokens_are_templated_whatever_their_alphabet() -> None:
    rng = random.Random(13)  # fixed: the same tokens, the same figures, every run
    base62 = string.ascii_letters + string.digits
    for length in (16, 24, 32):
        tokens = ["".join(rng.choice(base62) for _ in range(length)) for _ in range(2000)]
        assert _rate(tokens) >= 0.995, length
    urlsafe = [base64.urlsafe_b64encode(rng.randbytes(24)).decode() for _ in range(2000)]
    assert _rate(urlsafe) >= 0.999
    hexes = [rng.randbytes(16).hex() for _ in range(500)]
    assert _rate(hexes) == 1.0


def test_short_random_text_is_left_alone_below_the_judged_length() -> None:
    # Twelve characters are too few to tell a token from a name; such ids are rare
    # as secrets (they are short for that) and stay.
    assert segment("iKZWeqhFWCEa") == "iKZWeqhFWCEa"

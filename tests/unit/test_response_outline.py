"""The compiled outline of a JSON body gives the summary json.loads gives.

The recorder summarises every JSON response (``items``, ``paginated``) without
building the body's objects when the compiled module is there; these bodies,
well formed and not, each summarise the same both ways.
"""

from __future__ import annotations

import json
import random

import pytest

from perfdoctor.capture import response

pytestmark = pytest.mark.skipif(
    response._outline is None, reason="the compiled module is not built here"
)

ARTICLES = [{"id": i, "title": f"Article {i}", "author": {"name": "Ada"}} for i in range(39)]
BODIES = [
    json.dumps(ARTICLES).encode(),
    json.dumps({"count": 80, "next": "http://x/?page=2", "previous": None, "results": ARTICLES})
    .encode(),
    json.dumps({"articles": ARTICLES}).encode(),
    json.dumps({"data": ARTICLES[:3], "links": {"next": None}}, indent=2).encode(),
    json.dumps({"total": 1, "items": [[1, [2]], {"a": []}]}).encode(),
    json.dumps({"user": {"id": 1, "name": "Ada"}}).encode(),
    json.dumps({"names": ["Zoë", "Łukasz", "😀"]}, ensure_ascii=False).encode(),
    json.dumps({"names": ["Zoë", "\n\t\"\\/", "😀"]}).encode(),
    b'{"res\\u0075lts": [1, 2], "ne\\u0078t": null}',
    b'{"results": [1, 2], "results": "replaced"}',
    b'{"results": "first", "results": [1, 2, 3]}',
    b'{"\xc3\xa9l\xc3\xa8ves": [1, 2]}',
    b'[0, -0, 1.5, -2.25e10, 3E+2, 4e-2, 1e400, NaN, Infinity, -Infinity, true, false, null]',
    b' \t\r\n[ 1 , { "a" : [ ] } , "x" ] \n',
    b"[]",
    b"{}",
    b'{"results": []}',
    b'["\\ud83d\\ude00", "\\udc00 lone"]',
    b'"just a string"',
]
BROKEN = [
    b"[1,]",
    b'{"a": 1,}',
    b"[01]",
    b"[1.]",
    b"[.5]",
    b"[1e]",
    b"[-]",
    b"[+1]",
    b"[1 2]",
    b'{"a" 1}',
    b"{a: 1}",
    b"{'a': 1}",
    b'["tab\there"]',
    b'["bad \\x escape"]',
    b'["\\u12"]',
    b'["unterminated]',
    b"[1] trailing",
    b"[nul]",
    b"[True]",
    b"[-Inf]",
    b"\xef\xbb\xbf[1]",
    b'["\xff\xfe not utf-8"]',
    b'["\xed\xa0\x80 an encoded surrogate"]',
    b"[1]\x0c",
    b"[" * 5 + b"]" * 4,
]
UNUSUAL = [
    "[1, 2]".encode("utf-16-le"),
    '{"results": [1]}'.encode("utf-32-be"),
    b"[" * 600 + b"]" * 600,
    b"[" * 5000 + b"]" * 5000,
    b"[" + b"9" * 700 + b"]",
    b"[" + b"9" * 700 + b".5]",
]


def _both(body: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    compiled = response.summarize_json(body)
    with monkeypatch.context() as patch:
        patch.setattr(response, "_outline", None)
        parsed = response.summarize_json(body)
    return compiled, parsed


@pytest.mark.parametrize("body", BODIES + BROKEN + UNUSUAL)
def test_each_body_summarises_as_json_loads_reads_it(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled, parsed = _both(body, monkeypatch)
    assert compiled == parsed


def test_what_a_list_endpoint_sends_is_counted() -> None:
    assert response.summarize_json(BODIES[0]) == {"items": 39, "paginated": False}
    assert response.summarize_json(BODIES[1]) == {"items": 39, "paginated": True}
    assert response.summarize_json(BODIES[2]) == {"items": 39, "paginated": False}
    assert response.summarize_json(BODIES[8]) == {"items": 2, "paginated": True}
    assert response.summarize_json(BODIES[9]) == {}
    assert response.summarize_json(BODIES[11]) == {"items": 2, "paginated": False}
    # Nested past what the interpreter parses: no summary, and no error either.
    assert response.summarize_json(UNUSUAL[3]) == {}


def test_damaged_bodies_summarise_as_json_loads_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Bytes that matter to JSON's grammar, dropped, added or replaced anywhere.
    alphabet = b'[]{}",:\\ 0123456789.eE+-tfnul\x00\x1f\x80\xc3\xa9\xff'
    draw = random.Random(16)
    differ = []
    for base in BODIES + BROKEN[:6]:
        for _ in range(150):
            body = bytearray(base)
            for _ in range(draw.randint(1, 3)):
                at = draw.randrange(len(body) + 1)
                change = draw.randrange(3)
                if change == 0 and at < len(body):
                    del body[at]
                elif change == 1:
                    body[at:at] = bytes([draw.choice(alphabet)])
                elif at < len(body):
                    body[at] = draw.choice(alphabet)
            compiled, parsed = _both(bytes(body), monkeypatch)
            if compiled != parsed:
                differ.append((bytes(body), compiled, parsed))
    assert differ == []

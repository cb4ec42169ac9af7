"""The request-body side of `perfdoctor collect`, without a server."""

from __future__ import annotations

import gzip
import sys

import pytest
from google.rpc import status_pb2

from perfdoctor.collect import body
from perfdoctor.errors import UsageError


def test_error_answers_in_protobuf_are_google_rpc_status() -> None:
    status = status_pb2.Status()
    status.ParseFromString(body.status(body.PROTOBUF, body.RESOURCE_EXHAUSTED, "full é" * 30))
    assert (status.code, status.message) == (8, "full é" * 30)


def test_a_gzip_bomb_is_refused_without_unzipping_it_whole() -> None:
    bomb = gzip.compress(b"0" * 50_000_000)
    with pytest.raises(body.TooLarge):
        body.gunzip(bomb, 1_000_000)
    assert body.gunzip(gzip.compress(b"{}"), 10) == b"{}"
    with pytest.raises(body.BadBody):
        body.gunzip(gzip.compress(b"{}" * 100)[:-12], 1000)


def test_without_opentelemetry_proto_the_command_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.proto.collector.trace.v1", None)
    with pytest.raises(UsageError, match=r"pip install 'perfdoctor\[collect\]'"):
        body.require_protobuf()

"""The request-body side of `perfdoctor collect`, without a server."""

from __future__ import annotations

import gzip
import json
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


def test_protobuf_reads_as_the_same_spans_as_its_json_form() -> None:
    from google.protobuf.json_format import MessageToDict, ParseDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    value = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "s"},
                        "spans": [
                            {
                                "traceId": "AAECAwQFBgcICQoLDA0ODw==",
                                "spanId": "AAECAwQFBgc=",
                                "parentSpanId": "AQECAwQFBgc=",
                                "name": "SELECT",
                                "kind": 3,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000100000000",
                                "status": {"code": 2},
                                "attributes": [
                                    {"key": "s", "value": {"stringValue": "x"}},
                                    {"key": "i", "value": {"intValue": "7"}},
                                    {"key": "d", "value": {"doubleValue": 1.5}},
                                    {"key": "b", "value": {"boolValue": True}},
                                    {"key": "y", "value": {"bytesValue": "AQI="}},
                                    {
                                        "key": "a",
                                        "value": {"arrayValue": {"values": [{"intValue": "1"}]}},
                                    },
                                    {
                                        "key": "k",
                                        "value": {
                                            "kvlistValue": {
                                                "values": [
                                                    {"key": "z", "value": {"stringValue": "w"}}
                                                ]
                                            }
                                        },
                                    },
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    data = ParseDict(value, ExportTraceServiceRequest()).SerializeToString()
    direct, _ = body.spans(data, body.PROTOBUF)
    generic, _ = body.spans(
        json.dumps(MessageToDict(ParseDict(value, ExportTraceServiceRequest()))).encode(), body.JSON
    )
    assert direct == generic
    assert direct[0].attrs == {
        "s": "x",
        "i": 7,
        "d": 1.5,
        "b": True,
        "y": "AQI=",
        "a": [1],
        "k": {"z": "w"},
    }
    assert direct[0].error and direct[0].parent_id == "0101020304050607"

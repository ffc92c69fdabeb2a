"""CloudEvents headers of output messages: deterministic and free of the customer id."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import msgspec
import pytest
from jsonschema import Draft202012Validator

from impulse_stream.contract import codec, topics
from impulse_stream.contract.cloudevents import cloudevent_headers
from impulse_stream.core.events import Attribution, Impulse, Opportunity, OutputRecord

from .conftest import committed_schema


def record(topic: str, index: int = 0) -> OutputRecord:
    message = committed_schema(f"{topic}.schema.json")["examples"][index]
    return codec.decode_output(topic, json.dumps(message).encode())


def as_dict(headers: list[tuple[str, bytes]]) -> dict[str, str]:
    assert all(isinstance(v, bytes) for _, v in headers)
    return {name: value.decode() for name, value in headers}


def test_opportunity_headers_name_the_revision() -> None:
    opp = record(topics.OPPORTUNITIES)
    assert isinstance(opp, Opportunity)
    assert as_dict(cloudevent_headers(opp)) == {
        "ce_specversion": "1.0",
        "ce_id": f"{opp.opportunity_id}:0",
        "ce_source": "/impulse-stream/2026.11.1",
        "ce_type": "io.impulsestream.opportunity.v1",
        "ce_time": "2026-11-23T10:29:40Z",
        "content-type": "application/json",
    }
    withdrawn = record(topics.OPPORTUNITIES, 1)
    assert as_dict(cloudevent_headers(withdrawn))["ce_id"] == f"{opp.opportunity_id}:1"


def test_impulse_and_attribution_headers() -> None:
    impulse = record(topics.IMPULSES)
    attribution = record(topics.ATTRIBUTIONS)
    assert isinstance(impulse, Impulse) and isinstance(attribution, Attribution)
    ih = as_dict(cloudevent_headers(impulse))
    assert (ih["ce_id"], ih["ce_type"]) == (impulse.impulse_id, "io.impulsestream.impulse.v1")
    assert ih["ce_time"] == "2026-11-23T10:29:40Z"
    ah = as_dict(cloudevent_headers(attribution))
    assert ah["ce_id"] == attribution.attribution_id
    assert ah["ce_source"] == "/impulse-stream/worker"
    assert ah["ce_time"] == "2026-11-23T10:46:30Z"


def test_source_falls_back_to_worker_and_is_a_uri_reference() -> None:
    impulse = record(topics.IMPULSES)
    assert isinstance(impulse, Impulse)
    unversioned = msgspec.structs.replace(impulse, rules_version="")
    assert as_dict(cloudevent_headers(unversioned))["ce_source"] == "/impulse-stream/worker"
    odd = msgspec.structs.replace(impulse, rules_version="bank 42/v1")
    assert as_dict(cloudevent_headers(odd))["ce_source"] == "/impulse-stream/bank%2042%2Fv1"


def test_ce_time_is_the_payloads_time_text() -> None:
    impulse = record(topics.IMPULSES)
    assert isinstance(impulse, Impulse)
    cet = timezone(timedelta(hours=1))
    moved = msgspec.structs.replace(
        impulse, detected_at=datetime(2026, 11, 23, 11, 29, 40, 250000, tzinfo=cet)
    )
    ce_time = as_dict(cloudevent_headers(moved))["ce_time"]
    assert ce_time == "2026-11-23T11:29:40.250000+01:00"
    assert json.loads(codec.encode(moved))["detected_at"] == ce_time


@pytest.mark.parametrize("topic", topics.OUTPUT_TOPICS)
def test_headers_are_deterministic_valid_and_carry_no_customer_id(topic: str) -> None:
    schema = committed_schema("cloudevents-headers.schema.json")
    check = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for index in range(len(committed_schema(f"{topic}.schema.json")["examples"])):
        r = record(topic, index)
        headers = cloudevent_headers(r)
        assert headers == cloudevent_headers(record(topic, index))
        check.validate(as_dict(headers))
        names = [name for name, _ in headers]
        assert "ce_subject" not in names and "ce_partitionkey" not in names
        assert all(r.customer_id.encode() not in value for _, value in headers)

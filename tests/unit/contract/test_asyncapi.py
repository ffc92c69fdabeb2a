"""schemas/asyncapi.yaml is a structurally sound AsyncAPI 3.0 document of every topic.

No PyPI package ships the official AsyncAPI 3.0 JSON Schema, so this checks the
parts of the 3.0 structure the document uses with a compact schema, and
resolves every ``$ref`` (internal pointers and the topic schema files).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from impulse_stream.contract import topics

from .conftest import ROOT

DOC_PATH = ROOT / "schemas" / "asyncapi.yaml"
REF = {"type": "object", "required": ["$ref"], "properties": {"$ref": {"type": "string"}}}
KAFKA_BINDING = {
    "type": "object",
    "required": ["kafka"],
    "properties": {
        "kafka": {"type": "object", "properties": {"bindingVersion": {"const": "0.5.0"}}}
    },
}
ASYNCAPI_3_SUBSET = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["asyncapi", "info", "channels", "operations"],
    "properties": {
        "asyncapi": {"const": "3.0.0"},
        "id": {"type": "string", "format": "uri"},
        "defaultContentType": {"type": "string"},
        "info": {
            "type": "object",
            "required": ["title", "version"],
            "properties": {
                "title": {"type": "string", "minLength": 1},
                "version": {"type": "string", "minLength": 1},
                "description": {"type": "string"},
                "license": {"type": "object", "required": ["name"]},
            },
        },
        "servers": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["host", "protocol"],
                "properties": {"protocol": {"const": "kafka"}},
            },
        },
        "channels": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": r"^[\w\d\.\-_]+$"},
            "additionalProperties": {
                "type": "object",
                "required": ["address", "messages"],
                "properties": {
                    "address": {"type": "string"},
                    "messages": {"type": "object", "additionalProperties": REF},
                    "bindings": KAFKA_BINDING,
                },
            },
        },
        "operations": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "required": ["action", "channel"],
                "properties": {
                    "action": {"enum": ["send", "receive"]},
                    "channel": REF,
                    "messages": {"type": "array", "items": REF},
                },
            },
        },
        "components": {
            "type": "object",
            "properties": {
                "messages": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "required": ["payload"],
                        "properties": {
                            "name": {"type": "string"},
                            "contentType": {"type": "string"},
                            "payload": {"type": "object"},
                            "headers": {"type": "object"},
                            "bindings": KAFKA_BINDING,
                            "examples": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "anyOf": [{"required": ["payload"]}, {"required": ["headers"]}],
                                },
                            },
                        },
                    },
                }
            },
        },
    },
}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOC_PATH.read_text(encoding="utf-8"))
    return loaded


def pointer(document: Any, fragment: str) -> Any:
    node = document
    for part in fragment.lstrip("/").split("/") if fragment.strip("/") else []:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def resolve(doc: dict[str, Any], ref: str, base: Path = DOC_PATH) -> Any:
    """The node a ``$ref`` names, in this document or in a file beside it."""
    target, _, fragment = ref.partition("#")
    if not target:
        return pointer(doc, fragment)
    path = (base.parent / target).resolve()
    assert path.is_file(), f"$ref {ref!r}: no file {path}"
    text = path.read_text(encoding="utf-8")
    loaded = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return pointer(loaded, fragment)


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def test_document_has_the_asyncapi_3_structure(doc: dict[str, Any]) -> None:
    Draft202012Validator(ASYNCAPI_3_SUBSET).validate(doc)


def test_every_ref_resolves(doc: dict[str, Any]) -> None:
    found = refs(doc)
    assert len(found) > 30
    for ref in found:
        node = resolve(doc, ref)
        assert isinstance(node, dict), ref
        if not ref.startswith("#"):
            Draft202012Validator.check_schema(node)


def test_every_contract_topic_is_a_channel(doc: dict[str, Any]) -> None:
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {
        *topics.INPUT_TOPICS,
        *topics.OUTPUT_TOPICS,
        topics.OUTBOUND,
        topics.DEAD_LETTERS,
        *topics.INTERNAL_TOPICS,
    }


def test_the_worker_receives_inputs_and_sends_outputs(doc: dict[str, Any]) -> None:
    actions: dict[str, str] = {}
    for name, operation in doc["operations"].items():
        channel = resolve(doc, operation["channel"]["$ref"])
        address = channel["address"]
        actions[address] = "+".join(
            sorted({*actions.get(address, "").split("+")} - {""} | {operation["action"]})
        )
        channel_messages = list(channel["messages"].values())
        for ref in operation["messages"]:
            # an operation's messages must be messages of its own channel
            assert ref["$ref"].startswith(operation["channel"]["$ref"] + "/messages/"), name
            assert resolve(doc, ref["$ref"]) in channel_messages
    assert actions == {
        **dict.fromkeys(topics.INPUT_TOPICS, "receive"),
        **dict.fromkeys((*topics.OUTPUT_TOPICS, topics.OUTBOUND, topics.DEAD_LETTERS), "send"),
        **dict.fromkeys(topics.INTERNAL_TOPICS, "receive+send"),  # the worker's own topics
    }


def test_messages_carry_the_topic_schema_the_key_and_the_headers(doc: dict[str, Any]) -> None:
    for channel in doc["channels"].values():
        topic = channel["address"]
        (message,) = (resolve(doc, m["$ref"]) for m in channel["messages"].values())
        kafka = message["bindings"]["kafka"]
        if topic == topics.DEAD_LETTERS:
            assert message["headers"] == {"$ref": f"./topics/{topic}.schema.json"}
            continue
        assert message["payload"] == {"$ref": f"./topics/{topic}.schema.json"}
        if topic == topics.EMPLOYER_MEMBERS:  # re-keyed by employer
            assert kafka["key"]["pattern"] == "^emp-[0-9a-f]{16}$"
        elif topic == topics.HOUSEHOLD_MEMBERS:  # re-keyed by household
            assert kafka["key"]["pattern"] == "^[A-Za-z0-9._:@/-]+$"
        else:
            assert kafka["key"]["pattern"] == "^[A-Za-z0-9._:@-]+$"
        payload_schema = resolve(doc, message["payload"]["$ref"])
        for example in message["examples"]:
            Draft202012Validator(payload_schema).validate(example["payload"])
        if topic in topics.OUTPUT_TOPICS:
            assert message["headers"] == {"$ref": "./topics/cloudevents-headers.schema.json"}
            headers_schema = resolve(doc, message["headers"]["$ref"])
            Draft202012Validator(headers_schema).validate(message["examples"][0]["headers"])
        else:
            assert "headers" not in message


def test_compacted_and_retained_topics_say_so(doc: dict[str, Any]) -> None:
    by_topic = {c["address"]: c["bindings"]["kafka"] for c in doc["channels"].values()}
    assert by_topic[topics.PROFILES]["topicConfiguration"]["cleanup.policy"] == ["compact"]
    assert by_topic[topics.DEAD_LETTERS]["topicConfiguration"]["retention.ms"] == 30 * 86_400_000
    assert {b["partitions"] for b in by_topic.values()} == {topics.DEFAULT_PARTITIONS}

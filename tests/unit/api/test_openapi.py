"""The OpenAPI document: committed, complete, and made of valid JSON Schemas."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import msgspec
import pytest

from impulse_stream.api.openapi import OPEN_PATHS, openapi_document
from impulse_stream.api.security import OPEN_PATHS as UNSECURED
from impulse_stream.bootstrap import build
from impulse_stream.settings import Settings

COMMITTED = Path(__file__).resolve().parents[3] / "schemas" / "openapi.json"


def test_the_committed_document_is_the_generated_one():
    # Regenerate with: python -m impulse_stream.api.openapi > schemas/openapi.json
    assert json.loads(COMMITTED.read_text()) == json.loads(msgspec.json.encode(openapi_document()))


def test_every_route_of_the_worker_is_documented_and_nothing_else():
    container = build(Settings.from_env({}))
    container.app.web.init_server()
    served = {
        (route.method, route.resource.canonical)
        for route in container.app.web.web_app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    documented = {
        (method.upper(), path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }
    assert served == documented


def test_faust_router_and_table_views_are_not_served():
    container = build(Settings.from_env({}))
    container.app.web.init_server()
    paths = {r.resource.canonical for r in container.app.web.web_app.router.routes() if r.resource}
    assert not any(p.startswith(("/router", "/table", "/graph", "/stats")) for p in paths)


def test_open_paths_are_the_ones_without_security_in_the_document():
    doc = openapi_document()
    unsecured = {path for path, ops in doc["paths"].items() if ops["get"]["security"] == []}
    assert unsecured == set(OPEN_PATHS) == set(UNSECURED)


@pytest.mark.parametrize("name", sorted(openapi_document()["components"]["schemas"]))
def test_each_component_is_a_valid_json_schema(name):
    jsonschema.Draft202012Validator.check_schema(openapi_document()["components"]["schemas"][name])


def test_every_reference_resolves():
    doc = openapi_document()
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    names = set(doc["components"]["schemas"])
    assert refs and {r.removeprefix("#/components/schemas/") for r in refs} <= names

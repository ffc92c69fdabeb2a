"""Checks a real response against the committed OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

DOCUMENT = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "openapi.json").read_text()
)


def check_response(path: str, status: int, body: bytes, method: str = "get") -> Any:
    """Decode ``body`` and validate it against the document's schema for ``path`` and ``status``.

    ``path`` is the template (``/customers/{customer_id}``); raises when the
    status is not documented or the body does not match.
    """
    responses = DOCUMENT["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} -> {status} is not documented"
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    value = json.loads(body)
    # The component references are "#/components/...": resolve them in a root that has them.
    jsonschema.Draft202012Validator({**schema, "components": DOCUMENT["components"]}).validate(
        value
    )
    return value

"""The OpenAPI 3.1 document of the worker's HTTP API, built from the records it serves.

The response schemas come from the same msgspec records the views encode
(``CustomerView``, ``Opportunity``), so the document cannot describe fields the
API does not send. The worker serves it at ``/openapi.json``; the committed copy
``schemas/openapi.json`` is regenerated with::

    python -m impulse_stream.api.openapi > schemas/openapi.json

and a test fails when the two differ.
"""

from __future__ import annotations

import sys
from typing import Any

import msgspec

from impulse_stream import __version__
from impulse_stream.core.cockpit import CustomerView
from impulse_stream.core.events import CHANNELS, Opportunity

REF = "#/components/schemas/{name}"
JSON = "application/json"

# Paths that answer without the bearer token (probes, Prometheus, this document).
OPEN_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json")


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": REF.format(name="Error")}}},
    }


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _customer_id() -> dict[str, Any]:
    return {
        "name": "customer_id",
        "in": "path",
        "required": True,
        "description": "The customer id, as the key of every topic.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
    }


def _channel(default: str) -> dict[str, Any]:
    return {
        "name": "channel",
        "in": "query",
        "description": "The channel that asks: its policy filters and ranks the opportunities.",
        "schema": {"enum": list(CHANNELS), "default": default},
    }


AT = {
    "name": "at",
    "in": "query",
    "description": "Evaluate at this moment (RFC 3339 with offset) instead of now.",
    "schema": {"type": "string", "format": "date-time"},
}

SECURED = {
    "401": _error("The bearer token is missing or wrong (only when the worker has a token)."),
}


def _schemas() -> dict[str, Any]:
    _, components = msgspec.json.schema_components([CustomerView, Opportunity], ref_template=REF)
    components["Error"] = {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    }
    components["Profile"] = {
        "type": "object",
        "properties": {
            "known": {"type": "boolean"},
            "age": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "advisor_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "branch_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "segment": {"type": "string"},
            "consents": {"type": "object", "additionalProperties": {"type": "boolean"}},
            "products": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["known", "age", "advisor_id", "branch_id", "segment", "consents", "products"],
    }
    components["OpenOpportunity"] = {
        "type": "object",
        "properties": {
            "opportunity_id": {"type": "string"},
            "action_id": {"type": "string"},
            "priority": {"type": "number"},
            "rank": {"type": "integer", "minimum": 1},
            "valid_until": {"type": "string", "format": "date-time"},
            "channels": {"type": "array", "items": {"enum": list(CHANNELS)}},
            "snoozed_until": {
                "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]
            },
        },
        "required": [
            "opportunity_id",
            "action_id",
            "priority",
            "rank",
            "valid_until",
            "channels",
            "snoozed_until",
        ],
    }
    maybe_string = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    components["HouseholdMember"] = {
        "type": "object",
        "description": "Another member of the household: who advises them and what is open.",
        "properties": {
            "customer_id": {"type": "string"},
            "segment": {"type": "string"},
            "advisor_id": maybe_string,
            "branch_id": maybe_string,
            "open_opportunities": {"type": "integer", "minimum": 0},
            "top_opportunity": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {
                            "opportunity_id": {"type": "string"},
                            "action_id": {"type": "string"},
                            "priority": {"type": "number"},
                            "valid_until": {"type": "string", "format": "date-time"},
                        },
                        "required": ["opportunity_id", "action_id", "priority", "valid_until"],
                    },
                    {"type": "null"},
                ],
                "description": "The member's open opportunity of the highest priority.",
            },
        },
        "required": [
            "customer_id",
            "segment",
            "advisor_id",
            "branch_id",
            "open_opportunities",
            "top_opportunity",
        ],
    }
    components["Household"] = {
        "type": "object",
        "description": "The customer's household (from the profile) and its other members, "
        "by customer id, at most 20.",
        "properties": {
            "household_id": {"type": "string"},
            "members": {"type": "array", "items": {"$ref": REF.format(name="HouseholdMember")}},
        },
        "required": ["household_id", "members"],
    }
    components["Customer360"] = {
        "description": "The cockpit view plus master data and every open opportunity.",
        "allOf": [
            {"$ref": REF.format(name="CustomerView")},
            {
                "type": "object",
                "properties": {
                    "profile": {"$ref": REF.format(name="Profile")},
                    "open_opportunities": {
                        "type": "array",
                        "items": {"$ref": REF.format(name="OpenOpportunity")},
                    },
                    "channel": {"enum": list(CHANNELS)},
                    "household": {
                        "anyOf": [{"$ref": REF.format(name="Household")}, {"type": "null"}]
                    },
                },
                "required": ["profile", "open_opportunities", "channel", "household"],
            },
        ],
    }
    components["NextBestActions"] = {
        "type": "object",
        "properties": {
            "customer_id": {"type": "string"},
            "channel": {"enum": list(CHANNELS)},
            "actions": {"type": "array", "items": {"$ref": REF.format(name="Opportunity")}},
        },
        "required": ["customer_id", "channel", "actions"],
    }
    components["Health"] = {
        "type": "object",
        "properties": {
            "status": {"enum": ["ok", "stalled", "blocked"]},
            "lag": {"type": "integer", "minimum": 0},
            "idle_seconds": {"type": "number"},
            "problems": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["status", "lag", "idle_seconds", "problems"],
    }
    components["Ready"] = {
        "type": "object",
        "properties": {
            "ready": {"type": "boolean"},
            "problems": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["ready", "problems"],
    }
    return dict(sorted(components.items()))


def openapi_document() -> dict[str, Any]:
    """The whole document; deterministic, so the committed copy can be compared."""
    customer_errors = {
        "400": _error("A bad customer id, channel, limit or time."),
        **SECURED,
        "404": _error("No state for this customer."),
        "503": _error("The state store (Redis) does not answer."),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "impulse-stream customer 360 API",
            "version": __version__,
            "description": (
                "Served by every worker from Redis, one round trip per request (the 360 "
                "view of a customer in a household: one more for the household and one "
                "per other member). With "
                "IMPULSE_STREAM_API_TOKEN or IMPULSE_STREAM_API_TOKEN_FILE set, every path "
                "except " + ", ".join(OPEN_PATHS) + " needs `Authorization: Bearer <token>`."
            ),
        },
        "paths": {
            "/customers/{customer_id}": {
                "get": {
                    "operationId": "customer360",
                    "summary": "The customer 360: profile, timeline, processes, impulses, "
                    "predictions, opportunities, household.",
                    "security": [{"bearer": []}],
                    "parameters": [_customer_id(), _channel("advisor"), AT],
                    "responses": {
                        "200": _ok("The 360 view.", {"$ref": REF.format(name="Customer360")}),
                        **customer_errors,
                    },
                }
            },
            "/customers/{customer_id}/next-best-actions": {
                "get": {
                    "operationId": "nextBestActions",
                    "summary": "What the channel shows now, ranked, service before sales.",
                    "security": [{"bearer": []}],
                    "parameters": [
                        _customer_id(),
                        _channel("call_centre"),
                        {
                            "name": "limit",
                            "in": "query",
                            "description": "How many actions at most.",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 20,
                                "default": 3,
                            },
                        },
                        AT,
                    ],
                    "responses": {
                        "200": _ok(
                            "The ranked actions.", {"$ref": REF.format(name="NextBestActions")}
                        ),
                        **customer_errors,
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness: fails when partitions have lag and nothing was processed "
                    "for IMPULSE_STREAM_STALL_SECONDS, or while a partition is blocked (state "
                    "lost, or a batch that fails as a whole), naming it and why.",
                    "security": [],
                    "responses": {
                        "200": _ok("Alive.", {"$ref": REF.format(name="Health")}),
                        "503": _ok("Stalled or blocked.", {"$ref": REF.format(name="Health")}),
                    },
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "ready",
                    "summary": "Readiness: input partitions assigned, none blocked, and Redis "
                    "answers.",
                    "security": [],
                    "responses": {
                        "200": _ok("Ready.", {"$ref": REF.format(name="Ready")}),
                        "503": _ok(
                            "Not ready, with the reasons.", {"$ref": REF.format(name="Ready")}
                        ),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus text exposition.",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The metrics.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/": {
                "get": {
                    "operationId": "index",
                    "summary": "Faust's index page; it only says that the web server runs.",
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": _ok(
                            "Running.",
                            {
                                "type": "object",
                                "properties": {"status": {"const": "OK"}},
                                "required": ["status"],
                            },
                        ),
                        **SECURED,
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "security": [],
                    "responses": {
                        "200": _ok("The OpenAPI document.", {"type": "object"}),
                    },
                }
            },
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def main() -> None:
    sys.stdout.buffer.write(msgspec.json.format(msgspec.json.encode(openapi_document())) + b"\n")


if __name__ == "__main__":
    main()

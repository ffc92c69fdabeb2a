"""The catalogue schema's detector section, generated from a registry.

``schemas/catalogue.schema.json`` is the committed result of
``with_detectors(schema, DEFAULT_REGISTRY)`` (``scripts/gen_catalogue_schema.py``
writes it; a unit test fails when it drifts). Every detector entry refers to the
shared envelope ``$defs/detector`` (category, switch, lifetimes, description)
and adds the JSON Schema of its own ``params``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from impulse_stream.core.impulses.base import DetectorClass
from impulse_stream.core.impulses.registry import Registry

ENVELOPE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["category", "ttl_days", "repeat_after_days", "params"],
    "properties": {
        "category": {"enum": ["sales", "service"]},
        "enabled": {"type": "boolean"},
        "ttl_days": {"type": "number", "exclusiveMinimum": 0, "maximum": 3650},
        "repeat_after_days": {"type": "number", "minimum": 0, "maximum": 3650},
        "description": {"type": "string"},
        "params": {"type": "object"},
    },
}


def params_schema(detector: DetectorClass) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": copy.deepcopy(dict(detector.params)),
        "required": sorted(detector.params),
    }


def detectors_schema(registry: Registry) -> dict[str, Any]:
    """The ``detectors`` section: one entry per registered kind, nothing else."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            d.kind: {"$ref": "#/$defs/detector", "properties": {"params": params_schema(d)}}
            for d in registry
        },
    }


def with_detectors(schema: Mapping[str, Any], registry: Registry) -> dict[str, Any]:
    """``schema`` (the whole catalogue schema) with its detector section for ``registry``."""
    out = copy.deepcopy(dict(schema))
    out["properties"]["detectors"] = detectors_schema(registry)
    out["$defs"] = {**out.get("$defs", {}), "detector": copy.deepcopy(ENVELOPE)}
    return out

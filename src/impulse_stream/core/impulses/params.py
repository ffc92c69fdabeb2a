"""JSON Schemas of parameter shapes that several detectors share."""

from __future__ import annotations

from typing import Any

from impulse_stream.core.events import CHANNELS

CODE: dict[str, Any] = {
    "type": "string",
    "pattern": "^[a-z0-9_]+$",
    "minLength": 1,
    "maxLength": 64,
}
CODES: dict[str, Any] = {"type": "array", "items": CODE, "uniqueItems": True}
CHANNEL_LIST: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "uniqueItems": True,
    "items": {"enum": list(CHANNELS)},
}

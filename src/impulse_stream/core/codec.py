"""Compact msgpack encoding of the customer state for the state store.

The first byte is a format version so that a future layout can be read next to
this one. ``decode_state`` raises ``StateDecodeError`` on bytes it cannot read.
"""

from __future__ import annotations

import msgspec

from impulse_stream.core.state import CustomerState

STATE_FORMAT = 1

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(CustomerState)


class StateDecodeError(ValueError):
    """Stored state bytes are corrupt or of an unknown format version."""


def encode_state(state: CustomerState) -> bytes:
    return bytes([STATE_FORMAT]) + _encoder.encode(state)


def decode_state(data: bytes) -> CustomerState:
    if not data or data[0] != STATE_FORMAT:
        version = data[0] if data else None
        raise StateDecodeError(
            f"unknown customer-state format {version!r}; expected {STATE_FORMAT}"
        )
    try:
        return _decoder.decode(data[1:])
    except msgspec.DecodeError as exc:
        raise StateDecodeError(f"corrupt customer state: {exc}") from exc

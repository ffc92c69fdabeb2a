"""Compact msgpack encoding of the customer state for the state store.

The first byte is a format version, so that every layout ever written can be
read next to the current one:

* ``1`` plain msgpack (small states, until the zstd codec; still read);
* ``2`` msgpack compressed with zlib (larger states, until the zstd codec; still read);
* ``3`` msgpack compressed with zstd (level 1) and a dictionary trained on
  customer states, named by the second byte (``state_dictionary_<id>.py``):
  what ``encode_state`` writes, for every state (with the dictionary even a
  new customer's 66 bytes shrink to 58).

Format 3 is chosen by measurement (``bench/codec.py``, docs/bench.md): a
state of the bench's workload shrinks from 545 to 145 bytes on average
instead of 400 with zlib, and compressing costs about a tenth of zlib's CPU
(deflate's set-up dominates on blobs this small). The compressor objects are
not thread-safe: the core runs on the worker's event-loop thread.
``decode_state`` raises ``StateDecodeError`` on bytes it cannot read.
"""

from __future__ import annotations

import zlib

import msgspec
import zstandard

from impulse_stream.core.state import CustomerState
from impulse_stream.core.state_dictionary_1 import DICTIONARY, DICTIONARY_ID
from impulse_stream.errors import StateDecodeError

STATE_FORMAT = 1
ZLIB_FORMAT = 2
ZSTD_FORMAT = 3
ZSTD_LEVEL = 1
MAX_STATE_BYTES = 1 << 20  # a bound for corrupt frames; real states are under 4 KiB

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(CustomerState)

_dictionaries = {DICTIONARY_ID: zstandard.ZstdCompressionDict(DICTIONARY)}
_compressor = zstandard.ZstdCompressor(
    level=ZSTD_LEVEL,
    dict_data=_dictionaries[DICTIONARY_ID],
    write_checksum=False,
    write_content_size=True,
    write_dict_id=False,  # the header's second byte names it
)
_decompressors = {
    ident: zstandard.ZstdDecompressor(dict_data=d) for ident, d in _dictionaries.items()
}
_ZSTD_HEADER = bytes([ZSTD_FORMAT, DICTIONARY_ID])


def encode_state(state: CustomerState) -> bytes:
    return _ZSTD_HEADER + _compressor.compress(_encoder.encode(state))


def decode_state(data: bytes) -> CustomerState:
    version = data[0] if data else None
    try:
        if version == ZSTD_FORMAT:
            packed = _unzstd(data)
        elif version == STATE_FORMAT:
            packed = data[1:]
        elif version == ZLIB_FORMAT:
            packed = zlib.decompress(data[1:])
        else:
            raise StateDecodeError(
                f"unknown customer-state format {version!r}; expected {STATE_FORMAT}, "
                f"{ZLIB_FORMAT} or {ZSTD_FORMAT}"
            )
        return _decoder.decode(packed)
    except (msgspec.DecodeError, zlib.error, zstandard.ZstdError) as exc:
        raise StateDecodeError(f"corrupt customer state: {exc}") from exc


def _unzstd(data: bytes) -> bytes:
    decompressor = _decompressors.get(data[1]) if len(data) > 1 else None
    if decompressor is None:
        ident = data[1] if len(data) > 1 else None
        raise StateDecodeError(
            f"corrupt customer state: unknown state dictionary {ident!r}; this build has "
            f"{', '.join(map(str, sorted(_decompressors)))}"
        )
    packed: bytes = decompressor.decompress(data[2:], max_output_size=MAX_STATE_BYTES)
    return packed

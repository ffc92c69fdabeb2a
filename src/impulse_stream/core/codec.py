"""Compact msgpack encoding of the customer state for the state store.

The first byte is a format version, so that every layout ever written can be
read next to the current one:

* ``1`` plain msgpack (small states, until the zstd codec; still read);
* ``2`` msgpack compressed with zlib (larger states, until the zstd codec; still read);
* ``3`` msgpack compressed with zstd (level 1) and a dictionary trained on
  customer states, named by the second byte (``state_dictionary_<id>.py``;
  written with dictionary 1 until format 4; still read);
* ``4`` what ``encode_state`` writes, for every state: the second byte names
  the dictionary (2), the third is the number ``n`` of remembered events
  (``recent_events.py``), then ``n`` times eight bytes, the event's 48-bit id
  digest and 16-bit content digest (big-endian), then the rest of the state
  as msgpack compressed with zstd (level 3) and the dictionary.

The remembered events are random bits that no compressor shrinks: format 4
keeps them out of the zstd frame, fixed-width, 8 bytes an event instead of
the 15 of a msgpack pair of a 64-bit and a 32-bit integer. A state of an
earlier format is read with its digests cut to the leading 48 and 16 bits,
which is what ``recent_events.fingerprint`` computes since format 4, so a
repeat of an event the old state remembers is still recognised (the
migration; ``tests/unit/core/test_codec.py``). Dictionary 2 is trained on
what format 4 compresses (``scripts/train_state_dictionary.py``); dictionary
1 stays for format-3 states. Level 3 takes 8 bytes fewer per state than level
1 on the bench's states for about 1 µs more per encoding; level 5 another 2
bytes for 3 µs more.

The formats are chosen by measurement (``bench/codec.py``, ``bench/memory.py``,
docs/bench.md). The compressor objects are not thread-safe: the core runs on
the worker's event-loop thread. ``decode_state`` raises ``StateDecodeError``
on bytes it cannot read.
"""

from __future__ import annotations

import zlib

import msgspec
import zstandard

from impulse_stream.core import state_dictionary_1, state_dictionary_2
from impulse_stream.core.recent_events import CONTENT_BITS, EVENT_BITS
from impulse_stream.core.state import CustomerState, RecentEvent
from impulse_stream.errors import StateDecodeError

STATE_FORMAT = 1
ZLIB_FORMAT = 2
ZSTD_FORMAT = 3
PACKED_FORMAT = 4
ZSTD_LEVEL = 3  # format 4; format 3 was written at level 1
MAX_STATE_BYTES = 1 << 20  # a bound for corrupt frames; real states are under 4 KiB
DICTIONARY_ID = state_dictionary_2.DICTIONARY_ID  # what format 4 compresses with

_EVENT_BYTES = EVENT_BITS // 8
_CONTENT_BYTES = CONTENT_BITS // 8
_MARK_BYTES = _EVENT_BYTES + _CONTENT_BYTES
# Digests of the formats before 4 (64-bit id, 32-bit content): the bits format 4 drops.
_OLD_EVENT_SHIFT = 64 - EVENT_BITS
_OLD_CONTENT_SHIFT = 32 - CONTENT_BITS

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(CustomerState)

_dictionaries = {
    d.DICTIONARY_ID: zstandard.ZstdCompressionDict(d.DICTIONARY)
    for d in (state_dictionary_1, state_dictionary_2)
}
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
_HEADER = bytes([PACKED_FORMAT, DICTIONARY_ID])


def compressed_part(state: CustomerState) -> bytes:
    """The msgpack that format 4 compresses: the state without its remembered events."""
    if state.recent:
        state = msgspec.structs.replace(state, recent=())
    return _encoder.encode(state)


def encode_state(state: CustomerState) -> bytes:
    marks = bytearray(_HEADER)
    marks.append(len(state.recent))
    for mark in state.recent:
        marks += mark.event.to_bytes(_EVENT_BYTES, "big")
        marks += mark.content.to_bytes(_CONTENT_BYTES, "big")
    return bytes(marks) + _compressor.compress(compressed_part(state))


def decode_state(data: bytes) -> CustomerState:
    version = data[0] if data else None
    try:
        if version == PACKED_FORMAT:
            return _decode_packed(data)
        if version == ZSTD_FORMAT:
            packed = _unzstd(data, 2)
        elif version == STATE_FORMAT:
            packed = data[1:]
        elif version == ZLIB_FORMAT:
            packed = zlib.decompress(data[1:])
        else:
            raise StateDecodeError(
                f"unknown customer-state format {version!r}; expected {STATE_FORMAT}, "
                f"{ZLIB_FORMAT}, {ZSTD_FORMAT} or {PACKED_FORMAT}"
            )
        return _migrated(_decoder.decode(packed))
    except (msgspec.DecodeError, zlib.error, zstandard.ZstdError) as exc:
        raise StateDecodeError(f"corrupt customer state: {exc}") from exc


def _decode_packed(data: bytes) -> CustomerState:
    if len(data) < 3:
        raise StateDecodeError(f"corrupt customer state: a format-4 header of {len(data)} bytes")
    n = data[2]
    frame = 3 + n * _MARK_BYTES
    if len(data) <= frame:
        raise StateDecodeError(
            f"corrupt customer state: {n} remembered events need {frame} bytes before "
            f"the frame, the blob has {len(data)}"
        )
    state = _decoder.decode(_unzstd(data, frame))
    if not n:
        return state
    recent = tuple(
        RecentEvent(
            int.from_bytes(data[at : at + _EVENT_BYTES], "big"),
            int.from_bytes(data[at + _EVENT_BYTES : at + _MARK_BYTES], "big"),
        )
        for at in range(3, frame, _MARK_BYTES)
    )
    return msgspec.structs.replace(state, recent=recent)


def _migrated(state: CustomerState) -> CustomerState:
    """A state of a format before 4, its remembered digests cut to format 4's width."""
    if not state.recent:
        return state
    recent = tuple(
        RecentEvent(m.event >> _OLD_EVENT_SHIFT, m.content >> _OLD_CONTENT_SHIFT)
        for m in state.recent
    )
    return msgspec.structs.replace(state, recent=recent)


def _unzstd(data: bytes, frame: int) -> bytes:
    """The zstd frame from byte ``frame`` on, with the dictionary that byte 1 names."""
    decompressor = _decompressors.get(data[1]) if len(data) > 1 else None
    if decompressor is None:
        ident = data[1] if len(data) > 1 else None
        raise StateDecodeError(
            f"corrupt customer state: unknown state dictionary {ident!r}; this build has "
            f"{', '.join(map(str, sorted(_decompressors)))}"
        )
    packed: bytes = decompressor.decompress(data[frame:], max_output_size=MAX_STATE_BYTES)
    return packed

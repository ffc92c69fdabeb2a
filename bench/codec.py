"""The state codec's previous format next to today's: bytes per state and CPU per call.

``format3_encode_state`` is the encoder the codec had until format 4 (zstd
level 1 with dictionary 1 over the whole state, the recent-event digests 64
and 32 bits wide); ``zlib_encode_state`` the one before format 3 (plain
msgpack up to 256 bytes, zlib level 1 above). ``decode_state`` still reads
what both wrote. The previous and today's encode the states the store writes
for the reference workload (``bench/reference.py``, with the recent-event
memory), measured in one process, side by side:

    python -m bench.codec --events 40000
"""

from __future__ import annotations

import argparse
import hashlib
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass

import msgspec
import orjson
import zstandard

from bench.reference import remembering_states
from impulse_stream.core import state_dictionary_1
from impulse_stream.core.codec import decode_state, encode_state
from impulse_stream.core.recent_events import CONTENT_BITS, EVENT_BITS
from impulse_stream.core.state import CustomerState, RecentEvent

_packer = msgspec.msgpack.Encoder()
_format3 = zstandard.ZstdCompressor(
    level=1,
    dict_data=zstandard.ZstdCompressionDict(state_dictionary_1.DICTIONARY),
    write_checksum=False,
    write_content_size=True,
    write_dict_id=False,
)


def _widened(mark: RecentEvent) -> RecentEvent:
    """A digest pair as wide as before format 4 (64 and 32 bits): the dropped bits
    are filled from a hash, as random as blake2b's were, so the msgpack integers
    and what zstd makes of them are the size they were."""
    filler = int.from_bytes(hashlib.blake2b(mark.event.to_bytes(8, "big")).digest()[:6], "big")
    event_low, content_low = 64 - EVENT_BITS, 32 - CONTENT_BITS
    return RecentEvent(
        mark.event << event_low | filler & ((1 << event_low) - 1),
        mark.content << content_low | (filler >> event_low) & ((1 << content_low) - 1),
    )


def format3_encode_state(state: CustomerState) -> bytes:
    """The state codec's encoder before format 4 (format 3, dictionary 1)."""
    if state.recent:
        state = msgspec.structs.replace(state, recent=tuple(map(_widened, state.recent)))
    return b"\x03\x01" + _format3.compress(_packer.encode(state))


def zlib_encode_state(state: CustomerState) -> bytes:
    """The state codec's encoder before format 3 (formats 1 and 2)."""
    packed = _packer.encode(state)
    if len(packed) > 256:
        return b"\x02" + zlib.compress(packed, 1)
    return b"\x01" + packed


CODECS: dict[str, Callable[[CustomerState], bytes]] = {
    "zstd+dictionary 1 (format 3)": format3_encode_state,
    "packed digests+dictionary 2 (format 4)": encode_state,
}


@dataclass
class CodecFigures:
    codec: str
    states: int
    mean_bytes: float
    encode_us: float  # CPU per state
    decode_us: float  # CPU per state, msgpack decoding included


def _cpu_per_item(fn: Callable[[object], object], items: list[object]) -> float:
    start = time.process_time()
    for item in items:
        fn(item)
    return (time.process_time() - start) / len(items) * 1e6


def measure(states: list[CustomerState], rounds: int = 3) -> list[CodecFigures]:
    """Each codec in turn, ``rounds`` times interleaved; the best round of each."""
    best: dict[str, CodecFigures] = {}
    for _ in range(rounds):
        for name, encode in CODECS.items():
            blobs = [encode(s) for s in states]
            if [decode_state(b) for b in blobs[:200]] != states[:200]:
                raise AssertionError(f"{name}: a state does not round-trip")
            figures = CodecFigures(
                codec=name,
                states=len(states),
                mean_bytes=sum(map(len, blobs)) / len(blobs),
                encode_us=_cpu_per_item(encode, states),  # type: ignore[arg-type]
                decode_us=_cpu_per_item(decode_state, blobs),  # type: ignore[arg-type]
            )
            old = best.get(name)
            if old is None or figures.encode_us + figures.decode_us < old.encode_us + old.decode_us:
                best[name] = figures
    return list(best.values())


def states_of(events: int) -> list[CustomerState]:
    return list(remembering_states(events))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.codec")
    parser.add_argument("--events", type=int, default=40_000)
    args = parser.parse_args()
    for figures in measure(states_of(args.events)):
        print(orjson.dumps(asdict(figures)).decode())


if __name__ == "__main__":
    main()

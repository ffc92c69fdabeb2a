"""Train the zstd dictionary of the state codec on generated customer states.

    .venv/bin/python scripts/train_state_dictionary.py 3

writes ``src/impulse_stream/core/state_dictionary_<id>.py``. A dictionary is
never changed once shipped: stored states name the dictionary they were
compressed with, so a retrained one gets a new id, the codec compresses with
it and keeps the old ones to read old states.

The samples are what the codec compresses (``codec.compressed_part``: the
state without its recent-event digests, which format 4 stores beside the
frame) of the states the worker writes for two generators, up to 10,000 of each, so that
the dictionary fits neither alone:

* the bench's workload (``bench/reference.py``, a month of young customers):
  every fifth state of 100,000 events, seed 11;
* a bank month of ``datatools.generate`` (three months of regular bookings
  before it, so aggregates and payees are full): every tenth state of 600
  customers over 30 days, seed 21.

Both seeds differ from the ones the bench and the tests measure with.
Dictionary 1 (4 KiB) was trained on the bench's workload alone (20,000
events); on the generated month it compressed states only 1.6 times, about
half as well as on the bench's (docs/bench.md).

Run from the repository root.
"""

from __future__ import annotations

import random
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reference import remembering_states

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract.codec import decode
from impulse_stream.core import recent_events
from impulse_stream.core.codec import compressed_part
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.state import CustomerState
from impulse_stream.datatools.generate import GenerateSpec, write_files
from impulse_stream.datatools.recording import read_timed_recordings, recording_files
from impulse_stream.errors import DecodeFailure

ROOT = Path(__file__).resolve().parents[1]

# bytes; on the states of both generators 16 KiB takes 5-15 bytes fewer per state than
# 8 KiB (dictionary 1: 4 KiB)
SIZE = 16384
BENCH_EVENTS, BENCH_SEED, BENCH_EVERY = 100_000, 11, 5
MONTH_CUSTOMERS, MONTH_DAYS, MONTH_SEED, MONTH_EVERY = 600, 30, 21, 10
PER_GENERATOR = 10_000
SHUFFLE_SEED = 3


def generated_month_states(customers: int, days: int, seed: int) -> Iterator[CustomerState]:
    """Every state the worker would write for a month of ``datatools.generate``."""
    with tempfile.TemporaryDirectory(prefix="train-dictionary-") as tmp:
        write_files(GenerateSpec(customers, days, seed), Path(tmp), 6)
        messages = [m for _, m in read_timed_recordings(recording_files([Path(tmp)]))]
    engine = DecisionEngine(load_catalogue())
    states: dict[str, CustomerState] = {}
    watermark = None
    for m in messages:
        try:
            event = decode(m.topic, m.key, m.value)
        except DecodeFailure:
            continue
        watermark = event.occurred_at if watermark is None else max(watermark, event.occurred_at)
        state = states.get(event.customer_id)
        mark = recent_events.fingerprint(event)
        if recent_events.seen_before(state, mark) is not recent_events.Seen.NEW:
            continue
        decision = engine.apply(state, event, watermark)
        states[event.customer_id] = recent_events.remember(decision.state, mark)
        yield states[event.customer_id]


def samples() -> list[bytes]:
    bench = [
        compressed_part(s)
        for n, s in enumerate(remembering_states(BENCH_EVENTS, BENCH_SEED))
        if n % BENCH_EVERY == 0
    ]
    month = [
        compressed_part(s)
        for n, s in enumerate(generated_month_states(MONTH_CUSTOMERS, MONTH_DAYS, MONTH_SEED))
        if n % MONTH_EVERY == 0
    ]
    mixed = bench[:PER_GENERATOR] + month[:PER_GENERATOR]
    random.Random(SHUFFLE_SEED).shuffle(mixed)
    return mixed


def main() -> int:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit() or not 1 <= int(sys.argv[1]) <= 255:
        print("usage: train_state_dictionary.py ID (1..255, a new one)", file=sys.stderr)
        return 2
    ident = int(sys.argv[1])
    target = ROOT / "src" / "impulse_stream" / "core" / f"state_dictionary_{ident}.py"
    if target.exists():
        print(f"{target.name} exists: stored states depend on it; use a new id", file=sys.stderr)
        return 2
    mixed = samples()
    trained = zstandard.train_dictionary(SIZE, mixed).as_bytes()
    lines = textwrap.wrap(trained.hex(), 96)
    body = "\n".join(f'    "{line}"' for line in lines)
    target.write_text(
        f'"""zstd dictionary {ident} of the state codec: {len(trained)} bytes, trained by\n'
        f"``scripts/train_state_dictionary.py`` on {len(mixed):,} states: the bench's\n"
        f"workload ({BENCH_EVENTS:,} events, seed {BENCH_SEED}) and a generated bank month\n"
        f"({MONTH_CUSTOMERS} customers, seed {MONTH_SEED}). Never edit: stored states "
        "depend on it.\n"
        '"""\n\n'
        f"DICTIONARY_ID = {ident}\n"
        f"DICTIONARY = bytes.fromhex(\n{body}\n)\n",
        encoding="utf-8",
    )
    print(f"wrote {target.relative_to(ROOT)} ({len(trained)} bytes from {len(mixed)} states)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

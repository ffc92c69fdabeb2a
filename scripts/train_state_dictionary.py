"""Train the zstd dictionary of the state codec on generated customer states.

    .venv/bin/python scripts/train_state_dictionary.py 2

writes ``src/impulse_stream/core/state_dictionary_<id>.py``. A dictionary is
never changed once shipped: stored states name the dictionary they were
compressed with, so a retrained one gets a new id, the codec compresses with
it and keeps the old ones to read old states. The samples are the states the
store writes for the bench's workload (``bench/reference.py``) with a seed of
its own, so the bench measures the dictionary on states it was not trained on.

Run from the repository root.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import msgspec
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reference import written_states

ROOT = Path(__file__).resolve().parents[1]

SIZE = 4096  # bytes; 8 KiB saves another 10 bytes per state, 2 KiB costs 20
TRAINING_EVENTS = 20_000
TRAINING_SEED = 11


def main() -> int:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit() or not 1 <= int(sys.argv[1]) <= 255:
        print("usage: train_state_dictionary.py ID (1..255, a new one)", file=sys.stderr)
        return 2
    ident = int(sys.argv[1])
    target = ROOT / "src" / "impulse_stream" / "core" / f"state_dictionary_{ident}.py"
    if target.exists():
        print(f"{target.name} exists: stored states depend on it; use a new id", file=sys.stderr)
        return 2
    encoder = msgspec.msgpack.Encoder()
    samples = [encoder.encode(s) for s in written_states(TRAINING_EVENTS, TRAINING_SEED)]
    trained = zstandard.train_dictionary(SIZE, samples).as_bytes()
    lines = textwrap.wrap(trained.hex(), 96)
    body = "\n".join(f'    "{line}"' for line in lines)
    target.write_text(
        f'"""zstd dictionary {ident} of the state codec: {len(trained)} bytes, trained by\n'
        f"``scripts/train_state_dictionary.py`` on {len(samples):,} states of the bench's\n"
        f"workload (seed {TRAINING_SEED}). Never edit: stored states depend on it.\n"
        '"""\n\n'
        f"DICTIONARY_ID = {ident}\n"
        f"DICTIONARY = bytes.fromhex(\n{body}\n)\n",
        encoding="utf-8",
    )
    print(f"wrote {target.relative_to(ROOT)} ({len(trained)} bytes from {len(samples)} states)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

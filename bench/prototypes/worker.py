"""``python -m bench.prototypes.worker worker``: the real worker with a prototype switched on.

The same ``impulse-stream`` command line; ``BENCH_PROTOTYPE`` (comma-separated)
says what differs, everything else is the worker as shipped:

* ``batch-lua``: ``bootstrap.RedisStore`` is replaced by
  :class:`~bench.prototypes.batch_lua.BatchLuaStore` before the worker is built;
* ``gc``: once the worker is built (imports, catalogue, Faust app), the heap is
  frozen (``gc.freeze()``: the collector no longer scans what lives for the
  whole run) and the young generation's threshold raised from 700 to
  ``BENCH_PROTOTYPE_GC_THRESHOLD`` allocations (default 50,000), so a batch's
  short-lived objects are collected a few times per batch instead of scanned
  again at every 700 allocations. Outputs cannot change: only when the
  collector runs does. The shipped worker does this itself since issue 14
  (``streaming/collector.py``); the prototype stays for older checkouts.
"""

from __future__ import annotations

import gc
import os
from typing import Any

from bench.prototypes.batch_lua import BatchLuaStore
from impulse_stream import bootstrap, cli

PROTOTYPES = {p.strip() for p in os.environ.get("BENCH_PROTOTYPE", "").split(",") if p.strip()}
UNKNOWN = PROTOTYPES - {"batch-lua", "gc"}
if UNKNOWN:
    raise SystemExit(f"BENCH_PROTOTYPE: unknown {', '.join(sorted(UNKNOWN))}")

if "batch-lua" in PROTOTYPES:
    bootstrap.RedisStore = BatchLuaStore  # type: ignore[misc]

if "gc" in PROTOTYPES:
    _build = bootstrap.build

    def _build_then_freeze(*args: Any, **kwargs: Any) -> Any:
        container = _build(*args, **kwargs)
        gc.collect()
        gc.freeze()
        gen0 = int(os.environ.get("BENCH_PROTOTYPE_GC_THRESHOLD", "50000"))
        gc.set_threshold(gen0, *gc.get_threshold()[1:])
        return container

    bootstrap.build = _build_then_freeze

if __name__ == "__main__":
    cli.main()

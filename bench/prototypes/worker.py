"""``python -m bench.prototypes.worker worker``: the real worker on the prototype store.

The same ``impulse-stream`` command line, with ``bootstrap.RedisStore`` replaced
by :class:`~bench.prototypes.batch_lua.BatchLuaStore` before the worker is
built; nothing else differs (the bench's contender ``worker/batch-lua``).
"""

from __future__ import annotations

from bench.prototypes.batch_lua import BatchLuaStore
from impulse_stream import bootstrap, cli

bootstrap.RedisStore = BatchLuaStore  # type: ignore[misc]

if __name__ == "__main__":
    cli.main()

"""Prototype: one Redis call per batch for the read and one for the write (not in src/).

:class:`BatchLuaStore` is :class:`~impulse_stream.store.redis.RedisStore` with
``load`` and ``commit`` replaced, on one Redis server (not a cluster):

* ``load``: one ``EVAL`` of ``batch_load.lua`` carrying the delivered outbox
  entries (msgpack) and the customer ids; it deletes the entries and returns
  every customer's ``HGETALL`` reply. RedisStore sends ``2 × delivered +
  customers`` commands in a pipeline instead.
* ``commit``: the checkpoints exactly as RedisStore queues them (one
  ``checkpoint.lua`` per partition) and one ``EVAL`` of ``batch_commit.lua``
  with every write of the batch in two arguments (msgpack of the fields, the
  states, outbox entries and nonces concatenated); the script
  does per customer what RedisStore's pipeline does (``SADD`` to the pending
  set, then ``commit.lua``'s fenced write, which sets or removes the wake-up
  only when it applies), in the same order, so the keys and values written
  are the same. RedisStore sends ``checkpoints + 1..2 × writes`` commands.

The point is the client's CPU: redis-py packs, sends and parses every command
of a pipeline in Python (about 10 µs each); here it packs two commands and
msgspec packs the batch. The replies are read with hiredis as before. A
``NoScriptError`` cannot happen (``EVAL`` carries the script; Redis caches it
by its digest). The semantics are checked against RedisStore's by
``tests/integration/test_batch_lua_prototype.py`` (same keys and values after
the same writes, refused writes refused alike).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

import msgspec

from impulse_stream.errors import StateLost, StoreUnavailable
from impulse_stream.store.base import CustomerWrite, Delivered, StoredCustomer
from impulse_stream.store.redis import _ERRORS, RedisStore, _parse

_HERE = Path(__file__).resolve().parent
COMMIT_BATCH = (_HERE / "batch_commit.lua").read_text()
LOAD_BATCH = (_HERE / "batch_load.lua").read_text()
_pack = msgspec.msgpack.Encoder().encode


class BatchLuaStore(RedisStore):
    """RedisStore with one script call per batch for ``load`` and ``commit`` (one server)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if self.cluster:
            raise ValueError("the batch Lua prototype runs on one Redis server, not a cluster")

    async def load(
        self, customer_ids: Iterable[str], delivered: Sequence[Delivered] = ()
    ) -> dict[str, StoredCustomer]:
        ids = list(dict.fromkeys(customer_ids))
        if not ids and not delivered:
            return {}
        gone = _pack([(d.customer_id, d.partition, d.outbox_id) for d in delivered])
        try:
            replies = await self.redis.execute_command(
                "EVAL", LOAD_BATCH, 0, self.prefix, gone, *ids
            )
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis load failed: {exc}") from exc
        finally:
            self.round_trips += 1
        return {
            cid: _parse(dict(zip(h[::2], h[1::2], strict=True)))
            for cid, h in zip(ids, replies, strict=True)
        }

    async def commit(
        self,
        writes: Sequence[CustomerWrite],
        marks: Mapping[int, Mapping[str, int]] | None = None,
        expected: Collection[int] = (),
    ) -> set[str]:
        if not writes and not marks:
            return set()
        nonces = self.nonces.assign(writes)
        marks = marks or {}
        packed = _pack(
            [
                (
                    w.customer_id,
                    w.partition,
                    w.expected_version,
                    len(w.state),
                    w.outbox_id,
                    len(w.outbox),
                    [str(x) for tp, offset in w.fences.items() for x in (tp, offset)],
                    str(w.wakeup_ms) if w.wakeup_ms is not None else "",
                    self.timers_key(w.partition, w.customer_id),
                )
                for w in writes
            ]
        )
        blob = b"".join(
            part
            for w, nonce in zip(writes, nonces, strict=True)
            for part in (w.state, w.outbox, nonce)
        )
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                self._queue_marks(pipe, marks, expected)
                if writes:
                    pipe.execute_command("EVAL", COMMIT_BATCH, 0, self.prefix, packed, blob)
                replies = await pipe.execute()
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis commit failed: {exc}") from exc
        finally:
            self.round_trips += 1
        raised = [int(r) for r in replies[: len(marks)]]
        for p, ok in zip(sorted(marks), raised, strict=True):
            if not ok:
                raise StateLost(p, f"checkpoint {self.checkpoint_key(p)} was written and is gone")
        results = replies[len(marks)] if writes else []
        return {w.customer_id for w, ok in zip(writes, results, strict=True) if not int(ok)}

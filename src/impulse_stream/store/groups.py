"""Group membership in Redis: the customers of one group (an employer, a household).

One Redis hash per group, ``<prefix><kind>:{<group_id>}`` (the braces are the
hash tag: one hash slot on a Redis Cluster):

* ``m:<customer>`` holds the ``since`` time (ms) of the customer's latest
  membership, positive while a member, negative after leaving;
* ``count`` the current members.

A Lua script applies a membership only if it is newer than the one stored for
the customer, so a replay, a redelivered outbox or a restart counts nothing
twice, and a customer who moved leaves the old group. With a ``size`` (the
employer clusters) the script also says whom to tell that the group reached
it: ``n:<customer>`` marks a member told, ``open`` that every member was told
at the current size (cleared when the count drops below it). Without a size
(households) it only keeps the members.

An erasure (the customer was erased, ``erase``) deletes the customer's fields
(``m:``, ``n:``) whatever their ``since``, and counts a member out as a leave
does (``open`` cleared below the size): no field of the hash names the customer
afterwards. It applies last for the customer: the worker publishes it after
every membership of the customer it produced, on the same partition
(docs/data-protection.md, "Erasure"), and a later membership of the same id is
a new customer's.

Redis being away raises ``StoreUnavailable``; the caller retries
(``streaming/retry.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.exceptions import RedisClusterException, RedisError

from impulse_stream.errors import StoreUnavailable

_ERRORS = (RedisError, RedisClusterException, OSError)

# KEYS[1] the group's hash; ARGV[1] customer, ARGV[2] since (ms), ARGV[3] 1 joined / 0 left /
# 2 erased (since ignored: the customer's fields go), ARGV[4] the size to tell at (0: none).
# Returns {applied (1/0), count, full (1/0), customer, since, ...}: the members to tell now
# (all untold members when the group is at its size and not yet open, else this customer if
# it is an untold member of an open group).
APPLY_SCRIPT = """
local key = KEYS[1]
local field = 'm:' .. ARGV[1]
local since = tonumber(ARGV[2])
local current = redis.call('HGET', key, field)
local applied = 0
if ARGV[3] == '2' then
  local told = 'n:' .. ARGV[1]
  if current ~= false or redis.call('HEXISTS', key, told) == 1 then applied = 1 end
  redis.call('HDEL', key, field, told)
  if current ~= false and tonumber(current) > 0 then redis.call('HINCRBY', key, 'count', -1) end
elseif current == false or math.abs(tonumber(current)) < since then
  applied = 1
  local was = current ~= false and tonumber(current) > 0
  if ARGV[3] == '1' then
    redis.call('HSET', key, field, since)
    if not was then redis.call('HINCRBY', key, 'count', 1) end
  else
    redis.call('HSET', key, field, -since)
    if was then redis.call('HINCRBY', key, 'count', -1) end
  end
end
local count = tonumber(redis.call('HGET', key, 'count') or '0')
local out = {applied, count, 0}
local size = tonumber(ARGV[4])
if size == 0 then return out end
if count < size then
  redis.call('HDEL', key, 'open')
  return out
end
if redis.call('HEXISTS', key, 'open') == 0 then
  out[3] = 1
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local f = all[i]
    if string.sub(f, 1, 2) == 'm:' and tonumber(all[i + 1]) > 0 then
      local c = string.sub(f, 3)
      if redis.call('HEXISTS', key, 'n:' .. c) == 0 then
        table.insert(out, c)
        table.insert(out, all[i + 1])
      end
    end
  end
elseif ARGV[3] == '1' then
  local mine = tonumber(redis.call('HGET', key, field))
  if mine > 0 and redis.call('HEXISTS', key, 'n:' .. ARGV[1]) == 0 then
    table.insert(out, ARGV[1])
    table.insert(out, tostring(mine))
  end
end
return out
"""


@dataclass(frozen=True)
class Applied:
    """What one membership did to its group."""

    applied: bool  # False: not newer than what the group knew of the customer (a replay)
    members: int
    full_scan: bool  # the group reached its size now: every untold member is in ``tell``
    tell: tuple[str, ...]  # customers to tell, sorted (only with a size)


class GroupMembers:
    """Distinct current members per group in Redis, shared by every worker.

    ``kind`` names the groups in the keys (``employer``, ``household``); ``size``
    is the count at which the members are told (0: never).
    """

    def __init__(self, client: Any, kind: str, size: int = 0, prefix: str = "impulse:") -> None:
        if "{" in prefix or "}" in prefix:
            raise ValueError(f"the Redis key prefix {prefix!r} must not contain braces")
        self.client = client
        self.kind = kind
        self.size = size
        self.prefix = prefix
        self._apply = client.register_script(APPLY_SCRIPT)

    def key(self, group_id: str) -> str:
        return f"{self.prefix}{self.kind}:{{{group_id}}}"

    async def apply(
        self, group_id: str, customer_id: str, since: datetime, joined: bool
    ) -> Applied:
        """One membership, applied only if newer than the customer's stored one."""
        return await self._run(group_id, customer_id, int(since.timestamp() * 1000), int(joined))

    async def erase(self, group_id: str, customer_id: str) -> Applied:
        """Forget an erased customer: no field names them after it (``applied``: one did)."""
        return await self._run(group_id, customer_id, 0, 2)

    async def _run(self, group_id: str, customer_id: str, ms: int, change: int) -> Applied:
        try:
            reply = await self._apply(
                keys=[self.key(group_id)], args=[customer_id, ms, change, self.size]
            )
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis {self.kind} membership failed: {exc}") from exc
        applied, members, full = (int(v) for v in reply[:3])
        names = [v.decode() if isinstance(v, bytes) else str(v) for v in reply[3::2]]
        return Applied(bool(applied), members, bool(full), tuple(sorted(names)))

    async def mark_told(self, group_id: str, customers: Sequence[str], full: bool) -> None:
        fields: dict[str, int] = {f"n:{c}": 1 for c in customers}
        if full:
            fields["open"] = 1
        if not fields:
            return
        try:
            await self.client.hset(self.key(group_id), mapping=fields)
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis {self.kind} marks failed: {exc}") from exc

    async def members(self, group_id: str) -> int:
        """How many customers the group has now."""
        try:
            value = await self.client.hget(self.key(group_id), "count")
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis {self.kind} read failed: {exc}") from exc
        return int(value or 0)

    async def customers(self, group_id: str) -> tuple[str, ...]:
        """The group's current members, sorted."""
        try:
            fields = await self.client.hgetall(self.key(group_id))
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis {self.kind} read failed: {exc}") from exc
        out = []
        for name, value in fields.items():
            text = name.decode() if isinstance(name, bytes) else str(name)
            if text.startswith("m:") and int(value) > 0:
                out.append(text[2:])
        return tuple(sorted(out))


__all__ = ["APPLY_SCRIPT", "Applied", "GroupMembers"]

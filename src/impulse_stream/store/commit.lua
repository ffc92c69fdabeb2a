-- Fenced compare-and-set write of one customer's record.
-- KEYS[1]  the customer's hash ({customer} hash tag: one slot, Redis Cluster safe)
-- KEYS[2]  the customer's outbox hash (same hash tag, same slot)
-- ARGV[1]  expected version (the version the worker read)
-- ARGV[2]  encoded state
-- ARGV[3]  outbox entry id ('' for none)
-- ARGV[4]  outbox entry (encoded messages)
-- ARGV[5]  number of fences n, then n pairs: topic-partition, offset
-- ARGV[6 + 2n]  this write's nonce (8 bytes, unique per write the store is given)
-- KEYS[3]  (one server only) the customer's timer shard (a sorted set), with
-- ARGV[7 + 2n]  the member (the customer) and ARGV[8 + 2n] its next wake-up in ms,
--           '' for none: set or removed only when the write is applied, so that a
--           refused write (a zombie's late one) never moves or removes the wake-up
--           the partition's owner stored. A cluster keeps the timers in another slot:
--           the store updates them in round trips of their own (store/redis.py).
-- Returns the new version, or 0 when the write is refused: the record changed
-- since the read, or an offset is not newer than the fence (a duplicate or a
-- zombie's late write).
-- The same write sent again returns its version again: a client that resends a
-- pipeline after a connection error (redis-py's cluster pipeline resends all of
-- it when one node fails) must learn that the write succeeded, or the caller
-- would take it for refused and never publish its outbox entry. The nonce,
-- kept in field 'w', tells a resend from another writer's write with the same
-- content (a zombie that read the same version), which stays refused.
local key = KEYS[1]
local n = tonumber(ARGV[5])
local nonce = ARGV[6 + 2 * n]
local version = tonumber(redis.call('HGET', key, 'v') or '0')
if version ~= tonumber(ARGV[1]) then
  if version == tonumber(ARGV[1]) + 1 and redis.call('HGET', key, 'w') == nonce then
    return version
  end
  return 0
end
for i = 0, n - 1 do
  local applied = redis.call('HGET', key, 'f:' .. ARGV[6 + 2 * i])
  if applied and tonumber(applied) >= tonumber(ARGV[7 + 2 * i]) then
    return 0
  end
end
version = version + 1
redis.call('HSET', key, 'v', version, 's', ARGV[2], 'w', nonce)
for i = 0, n - 1 do
  redis.call('HSET', key, 'f:' .. ARGV[6 + 2 * i], ARGV[7 + 2 * i])
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
end
if KEYS[3] then
  local member, wakeup = ARGV[7 + 2 * n], ARGV[8 + 2 * n]
  if wakeup == '' then
    redis.call('ZREM', KEYS[3], member)
  else
    redis.call('ZADD', KEYS[3], wakeup, member)
  end
end
return version

-- Prototype (bench/prototypes/batch_lua.py): every customer write of a batch in one call.
-- Standalone Redis only: the keys are built here from the prefix (a cluster would need one
-- call per slot). The same semantics as store/commit.lua (its one-server form, with the
-- timers key) plus the pending-set SADD that RedisStore sends before it, per customer:
--   SADD <p>outbox:<partition> (if an outbox entry), then the fenced write, which sets or
--   removes the wake-up only when it applies (a refused write or a resend leaves it).
-- ARGV[1] key prefix
-- ARGV[2] msgpack array of writes, each
--   [customer, partition, expected_version, state length, outbox_id, outbox length, fences,
--   wakeup, timers]; fences a flat array topic-partition, offset (as strings), wakeup ''
--   for none, timers the customer's timer shard key (RedisStore.timers_key)
-- ARGV[3] the bytes of every write in order: state, outbox entry, 8-byte nonce (Redis's
--   cmsgpack reads no msgpack bin values, so the binary fields travel here)
-- Returns, per write in order, the new version or 0 when refused (as commit.lua).
local p = ARGV[1]
local writes = cmsgpack.unpack(ARGV[2])
local blob = ARGV[3]
local pos = 1
local out = {}
for w = 1, #writes do
  local cid, partition, expected, state_len, outbox_id, outbox_len, fences, wakeup, timers =
    unpack(writes[w])
  local state = string.sub(blob, pos, pos + state_len - 1)
  pos = pos + state_len
  local outbox = string.sub(blob, pos, pos + outbox_len - 1)
  pos = pos + outbox_len
  local nonce = string.sub(blob, pos, pos + 7)
  pos = pos + 8
  if outbox_id ~= '' then
    redis.call('SADD', p .. 'outbox:' .. partition, cid)
  end
  local key = p .. 'c:{' .. cid .. '}'
  local result = 0
  local version = tonumber(redis.call('HGET', key, 'v') or '0')
  if version ~= expected then
    if version == expected + 1 and redis.call('HGET', key, 'w') == nonce then
      result = version
    end
  else
    local fenced = false
    for i = 1, #fences, 2 do
      local applied = redis.call('HGET', key, 'f:' .. fences[i])
      if applied and tonumber(applied) >= tonumber(fences[i + 1]) then
        fenced = true
        break
      end
    end
    if not fenced then
      version = version + 1
      redis.call('HSET', key, 'v', version, 's', state, 'w', nonce)
      for i = 1, #fences, 2 do
        redis.call('HSET', key, 'f:' .. fences[i], fences[i + 1])
      end
      if outbox_id ~= '' then
        redis.call('HSET', p .. 'o:{' .. cid .. '}', outbox_id, outbox)
      end
      if wakeup == '' then
        redis.call('ZREM', timers, cid)
      else
        redis.call('ZADD', timers, wakeup, cid)
      end
      result = version
    end
  end
  out[w] = result
end
return out

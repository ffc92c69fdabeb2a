-- Prototype (bench/prototypes/batch_lua.py): a batch's read in one call (standalone Redis).
-- ARGV[1] key prefix
-- ARGV[2] msgpack array of delivered outbox entries [customer, partition, outbox_id]:
--   deleted first (HDEL of the entry, SREM from the partition's pending set), as
--   RedisStore.load does in its pipeline
-- ARGV[3..] the customers to read
-- Returns one HGETALL reply (flat field, value array) per customer, in order.
local p = ARGV[1]
local delivered = cmsgpack.unpack(ARGV[2])
for i = 1, #delivered do
  local d = delivered[i]
  redis.call('HDEL', p .. 'o:{' .. d[1] .. '}', d[3])
  redis.call('SREM', p .. 'outbox:' .. d[2], d[1])
end
local out = {}
for i = 3, #ARGV do
  out[i - 2] = redis.call('HGETALL', p .. 'c:{' .. ARGV[i] .. '}')
end
return out

-- Raise a partition's checkpoint: each topic-partition entry only ever grows,
-- so a paused worker's late write cannot move it back.
-- KEYS[1]  the partition's checkpoint hash
-- ARGV[1]  1 when the worker expects the checkpoint to exist (it wrote or read
--          it before), else 0
-- ARGV     then pairs: topic-partition, offset
-- Returns 1 when raised; 0, writing nothing, when the worker expects the
-- checkpoint and it is gone: a Redis that came back empty, whose loss a
-- re-created checkpoint would hide from the next check (StateLost).
local key = KEYS[1]
if ARGV[1] == '1' and redis.call('EXISTS', key) == 0 then
  return 0
end
for i = 2, #ARGV, 2 do
  local known = redis.call('HGET', key, ARGV[i])
  if not known or tonumber(known) < tonumber(ARGV[i + 1]) then
    redis.call('HSET', key, ARGV[i], ARGV[i + 1])
  end
end
return 1

-- Raise a partition's checkpoint: each topic-partition entry only ever grows,
-- so a paused worker's late write cannot move it back.
-- KEYS[1]  the partition's checkpoint hash
-- ARGV     pairs: topic-partition, offset
local key = KEYS[1]
for i = 1, #ARGV, 2 do
  local known = redis.call('HGET', key, ARGV[i])
  if not known or tonumber(known) < tonumber(ARGV[i + 1]) then
    redis.call('HSET', key, ARGV[i], ARGV[i + 1])
  end
end
return 1

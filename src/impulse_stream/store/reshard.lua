-- Move a partition's timers into the layout of S shards, in one script on the
-- partition's slot (every key below but the legacy one carries its hash tag).
-- KEYS[1]      the partition's timer layout key
-- KEYS[2 .. S+1]           the S shards of the new layout, in shard order
-- KEYS[S+2 .. S+1+n]       the n shards of the layout stored before (n = 0: none)
-- KEYS[S+2+n]  (one server only) the partition's single timer set of releases before
--              the shards, ``<prefix>timers:<partition>``
-- ARGV[1]      S, ARGV[2] n, ARGV[3] 1 when the single set is the last key,
-- ARGV[4]      1 to record S as the partition's layout (KEYS[1]), ARGV[5..] member,
--              wake-up pairs the caller read from the single set (on a cluster the set
--              lives in another slot)
-- Every member of the old shards, the single set and the pairs that the new layout
-- does not hold yet is added to its shard (ZADD NX: a wake-up already in the new
-- layout was written later), in that order of precedence; the old keys are deleted.
-- A customer's shard: the first 32 bits of SHA-1 of its id, modulo S (the store's
-- timer_shard() in Python). Returns how many wake-ups were moved.
local S = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local moved = 0
local function put(member, score)
  local shard = tonumber(string.sub(redis.sha1hex(member), 1, 8), 16) % S
  moved = moved + redis.call('ZADD', KEYS[2 + shard], 'NX', score, member)
end
local sources = {}
for i = S + 2, S + 1 + n do
  sources[#sources + 1] = KEYS[i]
end
if ARGV[3] == '1' then
  sources[#sources + 1] = KEYS[S + 2 + n]
end
for _, key in ipairs(sources) do
  local r = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  for j = 1, #r, 2 do
    put(r[j], r[j + 1])
  end
  redis.call('DEL', key)
end
for j = 5, #ARGV, 2 do
  put(ARGV[j], ARGV[j + 1])
end
if ARGV[4] == '1' then
  redis.call('SET', KEYS[1], ARGV[1])
end
return moved

-- The due wake-ups of one partition, read from all of its timer shards at once, and the
-- earliest wake-up after them.
-- KEYS[1]      the partition's timer layout key: the shard count its timers are stored in
-- KEYS[2..]    the S shards of that layout (sorted sets, customer -> wake-up in ms), in
--              shard order; every key carries the partition's hash tag (one slot)
-- ARGV[1]      S, ARGV[2] the event time (ms) up to which a wake-up is due, ARGV[3] the
--              limit (ZRANGEBYSCORE's LIMIT 0 <limit>: negative for all)
-- Returns {0, <stored layout or ''>} when the stored layout is not S (missing, or
-- written with another shard count): the store reshards and asks again. Otherwise
-- {1, next, member, score, member, score, ...}: the due members of every shard, cut to
-- the scores at or below the limit-th smallest one, and as next the smallest score of
-- the members not returned (each shard's first one after those it returned; nil when
-- there is none). Members of equal score are ordered by the caller (bytes, as a sorted
-- set orders them), which then cuts to the limit: Lua compares strings by the server's
-- locale, not byte by byte.
local layout = redis.call('GET', KEYS[1])
if layout ~= ARGV[1] then
  return {0, layout or ''}
end
local limit = tonumber(ARGV[3])
local found = {}
local next_score, next_text = nil, false
local function later(text)
  local score = tonumber(text)
  if next_score == nil or score < next_score then
    next_score, next_text = score, text
  end
end
for i = 2, #KEYS do
  local r = redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', ARGV[2], 'WITHSCORES', 'LIMIT', 0,
    limit)
  for j = 1, #r, 2 do
    found[#found + 1] = {tonumber(r[j + 1]), r[j], r[j + 1]}
  end
  -- the shard's first member after the #r / 2 smallest it returned
  local rank = #r / 2
  local after = redis.call('ZRANGE', KEYS[i], rank, rank, 'WITHSCORES')
  if after[2] then
    later(after[2])
  end
end
local cutoff = nil
if limit >= 0 and #found > limit then
  local scores = {}
  for i = 1, #found do
    scores[i] = found[i][1]
  end
  table.sort(scores)
  if limit == 0 then
    cutoff = scores[1] - 1
  else
    cutoff = scores[limit]
  end
end
local out = {1, false}
for i = 1, #found do
  if cutoff == nil or found[i][1] <= cutoff then
    out[#out + 1] = found[i][2]
    out[#out + 1] = found[i][3]
  else
    later(found[i][3])
  end
end
out[2] = next_text
return out

-- segment-take.lua: reserves the next range of a segment name's residue class, in one atomic step.
--
-- KEYS[1]  <namespace>:segment:{<name>}   hash: next, start, max, delta, remainder, version
-- ARGV[1]  delta, ARGV[5] remainder (both must match the recorded ones), ARGV[2] count, ARGV[3] the first number of the class above the caller's floor
-- ARGV[4]  the largest number this store may hand out whatever the recorded max (2^53 - 1 - delta: Lua's doubles are exact
--          up to 2^53)
--
-- Reply: {"range", first, count} | {"unknown"} | {"delta", recorded delta, recorded remainder} | {"exhausted", max}
local h = redis.call('HMGET', KEYS[1], 'next', 'max', 'delta', 'remainder')
if not h[1] then
  return {'unknown'}
end
if h[3] ~= ARGV[1] or h[4] ~= ARGV[5] then
  return {'delta', h[3] or '', h[4] or ''}
end
local delta = tonumber(ARGV[1])
local first = math.max(tonumber(h[1]), tonumber(ARGV[3]))
local max = math.min(tonumber(h[2]), tonumber(ARGV[4]))
if first > max then
  return {'exhausted', string.format('%.0f', max)}
end
local count = math.min(tonumber(ARGV[2]), math.floor((max - first) / delta) + 1)
redis.call('HSET', KEYS[1], 'next', string.format('%.0f', first + count * delta))
redis.call('HINCRBY', KEYS[1], 'version', 1)
return {'range', string.format('%.0f', first), string.format('%.0f', count)}

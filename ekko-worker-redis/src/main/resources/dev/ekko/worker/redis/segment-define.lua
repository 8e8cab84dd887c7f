-- segment-define.lua: creates a segment name's counter for one residue class if it is missing.
--
-- KEYS[1]  <namespace>:segment:{<name>}:<remainder>   hash: next, start, max, delta, version
-- ARGV[1]  delta, ARGV[2] remainder, ARGV[3] start, ARGV[4] max, ARGV[5] the first number of the class at or above start
--
-- Reply: {"defined"} (created, or it existed with the same values) or {"differs", delta, start, max} (the recorded ones).
-- Numbers stay strings here: Lua's numbers are doubles, exact only up to 2^53.
local h = redis.call('HMGET', KEYS[1], 'delta', 'start', 'max')
if not h[1] then
  redis.call('HSET', KEYS[1], 'next', ARGV[5], 'start', ARGV[3], 'max', ARGV[4], 'delta', ARGV[1], 'remainder', ARGV[2], 'version', '0')
  return {'defined'}
end
if h[1] ~= ARGV[1] or h[2] ~= ARGV[3] or h[3] ~= ARGV[4] then
  return {'differs', h[1], h[2] or '', h[3] or ''}
end
return {'defined'}

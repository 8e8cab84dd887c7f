-- segment-define.lua: creates a segment name's counter if it is missing, for the residue class this server serves.
--
-- KEYS[1]  <namespace>:segment:{<name>}   hash: next, start, max, delta, remainder, version
-- ARGV[1]  delta, ARGV[2] remainder, ARGV[3] start, ARGV[4] max, ARGV[5] the first number of the class at or above start
--
-- Reply: {"defined"} (created, or it existed with the same values) or {"differs", delta, start, max, remainder} (the
-- recorded ones: a process that lists its stores in another order is refused, never given another class's counter).
-- Numbers stay strings here: Lua's numbers are doubles, exact only up to 2^53.
local h = redis.call('HMGET', KEYS[1], 'delta', 'start', 'max', 'remainder')
if not h[1] then
  redis.call('HSET', KEYS[1], 'next', ARGV[5], 'start', ARGV[3], 'max', ARGV[4], 'delta', ARGV[1], 'remainder', ARGV[2], 'version', '0')
  return {'defined'}
end
if h[1] ~= ARGV[1] or h[2] ~= ARGV[3] or h[3] ~= ARGV[4] or h[4] ~= ARGV[2] then
  return {'differs', h[1], h[2] or '', h[3] or '', h[4] or ''}
end
return {'defined'}

-- release.lua: gives a worker ID back, only if the token still matches, keeping the final report as history.
--
-- KEYS[1]  <prefix>lease:<w>     the lease hash
-- KEYS[2]  <prefix>history:<w>   the worker ID's history hash, no expiry
-- KEYS[3]  <prefix>marks         sorted set worker ID -> mark, of marks this incarnation wrote (see acquire.lua)
-- KEYS[4]  <prefix>marks:incarnation  the incarnation the marks set belongs to: another one empties it first
-- KEYS[5]  <prefix>generation    part of the incarnation (see renew.lua)
-- KEYS[6]  <prefix>leases        acquire.lua's index of when each lease expires: 0 marks this one free at once
-- ARGV[1]  token
-- ARGV[2..6] the final report: local time, the last millisecond actually used (Unix ms), host, pid, instance
-- ARGV[7]  the worker ID
--
-- Once a holder has stopped issuing, its reservations past the last millisecond it used protect nobody. The
-- new mark is the higher of the mark when this lease was granted (the lease's "base", recorded at acquire:
-- it covers every earlier holder) and the final report, so a clean restart does not wait out a reservation
-- nobody can use; it never goes below what earlier holders reported. Without history at grant (a new worker
-- ID, or the server lost its data) there is no base: the final report alone is the mark. That is safe because
-- the core's final report is at or above every millisecond this holder used and at or above the start floor
-- it waited for (now + TTL + skew at grant), which covered any unknown earlier holder (WorkerAllocator#release).
-- A lease held by another token, or gone, is left alone, and so is the history.
--
-- Everything that can fail (a command the ACL user may not run) comes before the first write: Redis does not roll
-- back a script that fails half-way.
--
-- Reply: {"released", serverMillis} | {"not-held", serverMillis} | {"denied", command, key}
local function mayNot(...)
  return redis.acl_check_cmd ~= nil and not redis.acl_check_cmd(...)
end
for _, c in ipairs({{'TIME'}, {'INFO', 'server'}, {'INFO', 'replication'}, {'HMGET', KEYS[1]}, {'GET', KEYS[4]},
  {'HSET', KEYS[2], 'mark', '0'}, {'DEL', KEYS[1]}, {'DEL', KEYS[3]}, {'SET', KEYS[4], 'x'}, {'ZADD', KEYS[3], '0', ARGV[7]},
  {'GET', KEYS[5]}, {'EXISTS', KEYS[6]}, {'ZADD', KEYS[6], '0', ARGV[7]}}) do
  if mayNot(unpack(c)) then
    return {'denied', c[1], c[2] or ''}
  end
end

local t = redis.call('TIME')
local nowText = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local incarnation = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)') .. ':'
  .. string.match(redis.call('INFO', 'replication'), 'master_replid:(%w+)') .. ':' .. (redis.call('GET', KEYS[5]) or '')

local lease = redis.call('HMGET', KEYS[1], 'token', 'base')
if lease[1] ~= ARGV[1] then
  return {'not-held', nowText}
end
local used = ARGV[3]
local mark = used
if lease[2] and lease[2] ~= '' and tonumber(lease[2]) > tonumber(used) then
  mark = lease[2]
end
local indexed = redis.call('GET', KEYS[4]) == incarnation
redis.call('HSET', KEYS[2], 'mark', mark, 'incarnation', incarnation, 'time', ARGV[2], 'reserved', used, 'host', ARGV[4],
  'pid', ARGV[5], 'instance', ARGV[6], 'at', nowText)
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[6]) == 1 then
  redis.call('ZADD', KEYS[6], 0, ARGV[7]) -- only into an index that exists (see renew.lua)
end
if not indexed then
  redis.call('DEL', KEYS[3])
  redis.call('SET', KEYS[4], incarnation)
end
redis.call('ZADD', KEYS[3], mark, ARGV[7])
return {'released', nowText}

-- renew.lua: extends a lease and stores the holder's clock report, only while the token still matches.
--
-- KEYS[1]  <prefix>lease:<w>     the lease hash
-- KEYS[2]  <prefix>history:<w>   the worker ID's history hash, no expiry
-- KEYS[3]  <prefix>marks         sorted set worker ID -> mark, of marks this incarnation wrote (see acquire.lua)
-- KEYS[4]  <prefix>marks:incarnation  the incarnation the marks set belongs to: another one empties it first
-- KEYS[5]  <prefix>generation    a random token a holder writes when it saw the data go back; part of the incarnation
-- KEYS[6]  <prefix>epoch         a counter every renewal increments: a holder that gets a value no higher than one it got
--                                before knows the data went back (replaced by an older copy), whatever run_id says
-- KEYS[7]  <prefix>leases        sorted set worker ID -> when its lease expires (server ms): acquire.lua's index of free ones
-- ARGV[1]  token
-- ARGV[2]  ttl in milliseconds
-- ARGV[3..7] the report: local time, reserved-until (both Unix ms), host, pid, instance
-- ARGV[8]  the worker ID
--
-- A lease that is gone (expired, released, or lost with the server's data) or held by another token is
-- never re-created: the reply says which, and the caller fences at once.
--
-- Redis does not roll back a script that fails half-way, so everything that can fail (a command the ACL user may not
-- run) comes before the first write: an extended lease whose report was not stored would let the holder issue past a
-- mark the server never got.
--
-- Reply: {"renewed", serverMillis, mark, epoch, generation} | {"gone", serverMillis, mark, epoch, generation}
--        | {"taken", serverMillis, host, pid, instance, mark, epoch, generation} | {"denied", command, key}, where mark is the
-- history's mark before this renewal ("" if none) and generation the IDC's ("" if none). The epoch is incremented whatever the outcome: a holder whose lease is gone because
-- the data went back must still learn that it went back. The mark tells the holder the same of its own worker ID, however
-- many other holders renewed since (their increments can lift the epoch past what this holder saw).
local function mayNot(...)
  return redis.acl_check_cmd ~= nil and not redis.acl_check_cmd(...)
end
for _, c in ipairs({{'TIME'}, {'INFO', 'server'}, {'INFO', 'replication'}, {'HMGET', KEYS[1]}, {'HGET', KEYS[2]},
  {'GET', KEYS[4]}, {'PEXPIRE', KEYS[1], ARGV[2]}, {'HSET', KEYS[2], 'mark', '0'}, {'DEL', KEYS[3]}, {'SET', KEYS[4], 'x'},
  {'ZADD', KEYS[3], '0', ARGV[8]}, {'GET', KEYS[5]}, {'INCR', KEYS[6]}, {'EXISTS', KEYS[7]}, {'ZADD', KEYS[7], '0', ARGV[8]}}) do
  if mayNot(unpack(c)) then
    return {'denied', c[1], c[2] or ''}
  end
end

local t = redis.call('TIME')
local nowText = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
-- The server incarnation that writes the mark: acquire.lua trusts a mark as the latest only from its own incarnation.
local generation = redis.call('GET', KEYS[5]) or ''
local incarnation = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)') .. ':'
  .. string.match(redis.call('INFO', 'replication'), 'master_replid:(%w+)') .. ':' .. generation

local holder = redis.call('HMGET', KEYS[1], 'token', 'host', 'pid', 'instance')
local old = redis.call('HGET', KEYS[2], 'mark')
local epoch = tostring(redis.call('INCR', KEYS[6]))
if not holder[1] then
  return {'gone', nowText, old or '', epoch, generation}
end
if holder[1] ~= ARGV[1] then
  return {'taken', nowText, holder[2] or '?', holder[3] or '?', holder[4] or '?', old or '', epoch, generation}
end

-- The mark is the highest reserved-until any holder ever reported: it never goes down here.
local mark = ARGV[4]
if old and tonumber(old) > tonumber(mark) then
  mark = old
end
local indexed = redis.call('GET', KEYS[4]) == incarnation
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('EXISTS', KEYS[7]) == 1 then
  -- Only into an index that exists: a lost one is rebuilt by acquire.lua's walk, which a re-created partial one would hide.
  redis.call('ZADD', KEYS[7], string.format('%.0f', tonumber(nowText) + tonumber(ARGV[2])), ARGV[8])
end
redis.call('HSET', KEYS[2], 'mark', mark, 'time', ARGV[3], 'reserved', ARGV[4], 'host', ARGV[5], 'pid', ARGV[6],
  'instance', ARGV[7], 'at', nowText, 'incarnation', incarnation)
if not indexed then
  redis.call('DEL', KEYS[3])
  redis.call('SET', KEYS[4], incarnation)
end
redis.call('ZADD', KEYS[3], mark, ARGV[8])
return {'renewed', nowText, old or '', epoch, generation}

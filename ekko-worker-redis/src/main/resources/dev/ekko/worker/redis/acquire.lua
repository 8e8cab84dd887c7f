-- acquire.lua: claims a free worker ID of one IDC for a new holder, in one atomic step.
--
-- KEYS[1]  <prefix>instances     hash: instance name -> the worker ID it acquired last
-- ARGV[1]  <prefix>              e.g. "ekko:{idc5}:"; lease:<w> and history:<w> follow it
-- ARGV[2]  token                 the new holder's random secret
-- ARGV[3]  ttl                   lease TTL in milliseconds
-- ARGV[4]  n                     worker IDs in the layout (valid IDs are 0..n-1)
-- ARGV[5]  preferred             the configured worker ID to try first, or -1
-- ARGV[6]  start                 where the scan for a free worker ID begins (random)
-- ARGV[7..9] instance, host, pid of the new holder
--
-- Order of preference: the configured worker ID; the one this instance name acquired last; the first free
-- one from the random start. The lease is a hash with the holder's token and identity and a PEXPIRE. The
-- history hash (no expiry) is only read here, apart from its "holder" field (the instance that acquired
-- last), which keeps the instances hash down to one entry per worker ID.
--
-- Reply: {"granted", worker, serverMillis, mark, time, reserved, host, pid, instance}, the last six from the
-- worker ID's history ("" when absent; no mark means no history, and so does a mark that another incarnation
-- of the server wrote: see below), or
-- {"exhausted", serverMillis, distinctHolders, holder1, count1, holder2, count2, ...} (at most 8 holders,
-- most worker IDs first) when every worker ID is held.
local prefix = ARGV[1]
local token = ARGV[2]
local ttl = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local preferred = tonumber(ARGV[5])
local start = tonumber(ARGV[6])
local instance, host, pid = ARGV[7], ARGV[8], ARGV[9]

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowText = string.format('%.0f', now)

local function free(w)
  return redis.call('EXISTS', prefix .. 'lease:' .. w) == 0
end

local chosen = nil
if preferred >= 0 and preferred < n and free(preferred) then
  chosen = preferred
end
if chosen == nil then
  local last = tonumber(redis.call('HGET', KEYS[1], instance) or '')
  if last ~= nil and last >= 0 and last < n and free(last) then
    chosen = last
  end
end
if chosen == nil then
  for i = 0, n - 1 do
    local w = (start + i) % n
    if free(w) then
      chosen = w
      break
    end
  end
end

if chosen == nil then
  local counts, names = {}, {}
  for w = 0, n - 1 do
    local h = redis.call('HMGET', prefix .. 'lease:' .. w, 'host', 'pid', 'instance')
    local who = 'host ' .. (h[1] or '?') .. ' instance ' .. (h[3] or '?')
    if counts[who] == nil then
      counts[who] = 0
      names[#names + 1] = who
    end
    counts[who] = counts[who] + 1
  end
  table.sort(names, function(a, b)
    if counts[a] ~= counts[b] then return counts[a] > counts[b] end
    return a < b
  end)
  local reply = {'exhausted', nowText, tostring(#names)}
  for i = 1, math.min(8, #names) do
    reply[#reply + 1] = names[i]
    reply[#reply + 1] = tostring(counts[names[i]])
  end
  return reply
end

local lease = prefix .. 'lease:' .. chosen
redis.call('HSET', lease, 'token', token, 'host', host, 'pid', pid, 'instance', instance, 'since', nowText)
redis.call('PEXPIRE', lease, ttl)

local history = prefix .. 'history:' .. chosen
local previousHolder = redis.call('HGET', history, 'holder')
if previousHolder and previousHolder ~= instance and redis.call('HGET', KEYS[1], previousHolder) == tostring(chosen) then
  redis.call('HDEL', KEYS[1], previousHolder)
end
redis.call('HSET', history, 'holder', instance)
redis.call('HSET', KEYS[1], instance, tostring(chosen))
-- The mark this holder starts past: what it releases never goes below it (see release.lua).
local h = redis.call('HMGET', history, 'mark', 'time', 'reserved', 'host', 'pid', 'instance', 'incarnation')
redis.call('HSET', lease, 'base', h[1] or '')

-- A mark written by another incarnation of the server (it restarted since) may come from an old snapshot:
-- a holder that is still live may have reported far past it, and its lease key is gone. Hand over no mark
-- (Handover.unknown(): the core waits out the longest lease an earlier holder could still hold); the old
-- mark stays the floor of what this holder may release ("base" above).
local incarnation = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
local mark = h[1] or ''
if mark ~= '' and h[7] ~= incarnation then
  mark = ''
end

return {'granted', tostring(chosen), nowText, mark, h[2] or '', h[3] or '', h[4] or '', h[5] or '', h[6] or ''}

-- acquire.lua: claims a free worker ID of one IDC for a new holder, in one atomic step.
--
-- KEYS[1]  <prefix>instances     hash: instance name -> the worker ID it acquired last
-- KEYS[2]  <prefix>settings      hash: the settings every process of this namespace and IDC must share
-- KEYS[3]  <prefix>marks         sorted set: worker ID -> its mark, for marks this incarnation wrote (renew, release)
-- KEYS[4]  <prefix>marks:incarnation  string: the incarnation the marks set belongs to
-- ARGV[1]  <prefix>              e.g. "ekko:{idc5}:"; lease:<w> and history:<w> follow it
-- ARGV[2]  token                 the new holder's random secret
-- ARGV[3]  ttl                   lease TTL in milliseconds
-- ARGV[4]  n                     worker IDs in the layout (valid IDs are 0..n-1)
-- ARGV[5]  preferred             the configured worker ID to try first, or -1
-- ARGV[6]  start                 where the scan for a free worker ID begins (random)
-- ARGV[7..9] instance, host, pid of the new holder
-- ARGV[10] slack                 how far (ms) a trusted mark may be ahead of the server's clock and still count as safe now
-- ARGV[11] avoid                 worker IDs not to take, comma-separated ("" for none)
-- ARGV[12] a new random generation, written if the IDC has none (first use, or its data was lost)
-- ARGV[13..] the fleet settings, key and value pairs (none: no check, nothing recorded)
--
-- Order of preference: the configured worker ID; the one this instance name acquired last; a free one whose history this
-- server incarnation wrote with a mark at most `slack` ahead of the server's clock (its holder starts at once), found
-- through the marks set from a random position, looking at no more than PROBES of them; else the first free one from
-- the random start. Worker IDs in `avoid` are never taken.
--
-- Redis does not roll back a script that fails half-way (a command the ACL user may not run, say), so everything that
-- can fail comes before the first write: TIME, INFO, the reads, the settings check, and (Redis 7+) an ACL check of
-- every write about to be made.
--
-- Reply: {"granted", worker, serverMillis, mark, trust, time, reserved, host, pid, instance, generation, epoch}: the worker
-- ID's history
-- ("" when absent); trust is "same" for a mark this incarnation of the server wrote (the latest, a Handover.mark),
-- "other" for one another incarnation wrote (a lower bound only), "" without a mark; or
-- {"exhausted", serverMillis, avoidedFree, distinctHolders, holder1, count1, ...} (avoidedFree: the free worker IDs
-- that were avoided, comma-separated; at most 8 holders, most worker IDs first) when every worker ID not avoided is
-- held; or
-- {"settings", serverMillis, firstHost, firstInstance, firstAt, key1, ours1, recorded1, ...} when this process's fleet
-- settings differ from the recorded ones; or
-- {"denied", command, key} when the ACL user may not run a command this script needs.
local prefix = ARGV[1]
local token = ARGV[2]
local ttl = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local preferred = tonumber(ARGV[5])
local start = tonumber(ARGV[6])
local instance, host, pid = ARGV[7], ARGV[8], ARGV[9]
local slack = tonumber(ARGV[10])

local function denied(command, key)
  return {'denied', command, key or ''}
end
-- Redis 7 can tell whether the user may run a command before it is run; Redis 6 cannot (then the order is all there is).
local function mayNot(...)
  return redis.acl_check_cmd ~= nil and not redis.acl_check_cmd(...)
end
for _, c in ipairs({{'TIME'}, {'INFO', 'server'}, {'INFO', 'replication'}, {'HGETALL', KEYS[2]}, {'HGET', KEYS[1]},
  {'EXISTS', prefix .. 'lease:0'}, {'HMGET', prefix .. 'history:0'}, {'GET', KEYS[4]}, {'ZCOUNT', KEYS[3]},
  {'ZRANGEBYSCORE', KEYS[3]}, {'GET', prefix .. 'generation'}, {'GET', prefix .. 'epoch'}, {'ZRANGEBYSCORE', prefix .. 'leases'},
  {'EXISTS', prefix .. 'leases'}, {'GET', prefix .. 'fresh'}, {'PTTL', prefix .. 'lease:0'}}) do
  if mayNot(unpack(c)) then
    return denied(c[1], c[2])
  end
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowText = string.format('%.0f', now)

-- The incarnation: run_id changes at every restart, master_replid at every promotion of a replica (and when the first
-- replica attaches); a mark is the latest only if the incarnation that wrote it is still the one running.
-- The generation is written by a holder that saw the data go back (renew.lua's epoch): every mark written before is then
-- from another incarnation, a lower bound only.
-- A missing generation (the IDC's first use, or its data was lost) is written at once: a restored copy brings back the
-- generation it was taken under, a flushed server does not, so the generation also tells the caller which epoch values
-- it may compare with what its host saw (a flush restarts the counter under a new generation, not a restore).
-- (Written with the other writes below, after every check: here it only names the incarnation.)
local generation = redis.call('GET', prefix .. 'generation')
local writeGeneration = not generation
if writeGeneration then
  generation = ARGV[12]
end
local incarnation = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)') .. ':'
  .. string.match(redis.call('INFO', 'replication'), 'master_replid:(%w+)') .. ':' .. generation

local avoid = {}
for w in string.gmatch(ARGV[11], '%d+') do
  avoid[tonumber(w)] = true
end

-- The settings every process of the namespace's IDC must share: recorded by the first, compared for every later one.
local fleet = {}
local fleetKeys = {}
for i = 13, #ARGV - 1, 2 do
  fleet[ARGV[i]] = ARGV[i + 1]
  fleetKeys[#fleetKeys + 1] = ARGV[i]
end
local missingSettings = {}
local firstToRecord = false
if #fleetKeys > 0 then
  local recorded = {}
  local flat = redis.call('HGETALL', KEYS[2])
  for i = 1, #flat - 1, 2 do
    recorded[flat[i]] = flat[i + 1]
  end
  firstToRecord = #flat == 0
  local differences = {}
  for _, k in ipairs(fleetKeys) do
    local theirs = recorded[k]
    if theirs == nil then
      missingSettings[#missingSettings + 1] = k
    elseif theirs ~= fleet[k] then
      differences[#differences + 1] = k
    end
  end
  if #differences > 0 then
    local reply = {'settings', nowText, recorded['first.host'] or '?', recorded['first.instance'] or '?', recorded['first.at'] or ''}
    for _, k in ipairs(differences) do
      reply[#reply + 1] = k
      reply[#reply + 1] = fleet[k]
      reply[#reply + 1] = recorded[k]
    end
    return reply
  end
end

local function free(w)
  return redis.call('EXISTS', prefix .. 'lease:' .. w) == 0
end
local function usable(w)
  return w ~= nil and w >= 0 and w < n and not avoid[w] and free(w)
end
-- History this incarnation wrote, with a mark the holder may start past at once.
local function safeNow(w)
  local h = redis.call('HMGET', prefix .. 'history:' .. w, 'mark', 'incarnation')
  return h[1] ~= false and h[2] == incarnation and tonumber(h[1]) <= now + slack
end

local chosen = nil
if usable(preferred) then
  chosen = preferred
end
if chosen == nil then
  local last = tonumber(redis.call('HGET', KEYS[1], instance) or '')
  if usable(last) then
    chosen = last
  end
end
-- The marks set holds only marks this incarnation wrote (renew.lua and release.lua empty it when the incarnation changed),
-- ordered by mark, so the ones safe now are a range of it. Looking at PROBES of them at most from a random position keeps
-- the cost bounded (a scan of the history of every worker ID took 12-20 ms of server time for 4096 of them) and spreads
-- new instances over them. Each is checked against its history too.
local PROBES = 64
if chosen == nil and redis.call('GET', KEYS[4]) == incarnation then
  local limit = string.format('%.0f', now + slack)
  local count = redis.call('ZCOUNT', KEYS[3], '-inf', limit)
  if count > 0 then
    local offset = start % count
    local batch = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', limit, 'LIMIT', offset, PROBES)
    if #batch < PROBES and offset > 0 then
      for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', limit, 'LIMIT', 0, math.min(offset, PROBES - #batch))) do
        batch[#batch + 1] = m
      end
    end
    for _, m in ipairs(batch) do
      local w = tonumber(m)
      if w ~= nil and w < n and not avoid[w] and safeNow(w) and free(w) then
        chosen = w
        break
      end
    end
  end
end
-- The lease index (leasesKey): worker ID -> when its lease expires (server milliseconds; 0 once released), written by every
-- acquire, renewal and release, so the free worker IDs are a range of it. Worker IDs at or above the fresh counter were never
-- indexed: the walk below indexes them one by one as it passes (each once in the life of the data, so an acquire costs no
-- more than a bounded number of commands whatever n is). The index and the counter are lost together or not at all: renewals
-- and releases write to the index only while it exists, and an acquire that finds it missing starts the walk again from 0
-- and records that, so worker IDs indexed before the loss are found again. The lease key stays the authority: a candidate
-- is taken only if its lease key does not exist.
local leasesKey = prefix .. 'leases'
local freshKey = prefix .. 'fresh'
local indexWrites = {}
local function index(w, expires)
  indexWrites[#indexWrites + 1] = {w, expires}
end
local skipped = false
if chosen == nil then
  local wanted = PROBES
  for _ in pairs(avoid) do
    wanted = wanted + 1
  end
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', leasesKey, '-inf', nowText, 'LIMIT', 0, wanted)) do
    local w = tonumber(m)
    if w == nil or w >= n or avoid[w] then
      skipped = true
    elseif free(w) then
      chosen = w
      break
    else
      -- Indexed as expired but held (a holder of a version that did not write the index, or the index restored apart from
      -- the leases): correct it, and let the full scan below run if nothing else is found, since such entries can fill the
      -- probes.
      local pttl = redis.call('PTTL', prefix .. 'lease:' .. w)
      index(w, now + math.max(pttl, 0))
      skipped = true
    end
  end
end
local freshBefore = tonumber(redis.call('GET', freshKey) or '0')
local fresh = freshBefore
if redis.call('EXISTS', leasesKey) == 0 then
  -- No index (the IDC's first acquire, or it was lost): walk from 0, and record that with the index this acquire creates.
  fresh = 0
  freshBefore = -1
end
while chosen == nil and fresh < n do
  local w = fresh
  fresh = fresh + 1
  local pttl = redis.call('PTTL', prefix .. 'lease:' .. w)
  if pttl == -2 and not avoid[w] then
    chosen = w
  elseif pttl == -2 then
    index(w, 0)
  else
    index(w, now + math.max(pttl, 0))
  end
end
if chosen == nil and skipped then
  -- The index could not answer for this caller (worker IDs it may not take filled the probes): look at every worker ID once.
  for i = 0, n - 1 do
    local w = (start + i) % n
    if not avoid[w] and free(w) then
      chosen = w
      break
    end
  end
end

-- Writes the walk's progress and the index corrections; after the ACL checks of the caller.
local function writeIndex()
  for _, e in ipairs(indexWrites) do
    redis.call('ZADD', leasesKey, string.format('%.0f', e[2]), e[1])
  end
  if fresh ~= freshBefore then
    redis.call('SET', freshKey, fresh)
  end
end

if chosen == nil then
  -- Exhausted. The walk's progress and corrections are kept (so the next refusal does not walk again): checked first.
  if mayNot('ZADD', leasesKey, '0', '0') then
    return denied('ZADD', leasesKey)
  end
  if mayNot('SET', freshKey, '0') then
    return denied('SET', freshKey)
  end
  writeIndex()
  -- Bounded work: the holders of the SAMPLE leases that expire first, and the avoided worker IDs that are free.
  local SAMPLE = 64
  local counts, names = {}, {}
  local avoidedFree = {}
  for w in pairs(avoid) do
    if w < n and free(w) then
      avoidedFree[#avoidedFree + 1] = w
    end
  end
  table.sort(avoidedFree)
  for i, w in ipairs(avoidedFree) do
    avoidedFree[i] = tostring(w)
  end
  local sampled = redis.call('ZRANGEBYSCORE', leasesKey, '(' .. nowText, '+inf', 'LIMIT', 0, SAMPLE)
  for _, m in ipairs(sampled) do
    local h = redis.call('HMGET', prefix .. 'lease:' .. m, 'host', 'instance')
    local who = 'host ' .. (h[1] or '?') .. ' instance ' .. (h[2] or '?')
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
  local reply = {'exhausted', nowText, table.concat(avoidedFree, ','), tostring(#sampled), tostring(#names)}
  for i = 1, math.min(8, #names) do
    reply[#reply + 1] = names[i]
    reply[#reply + 1] = tostring(counts[names[i]])
  end
  return reply
end

local lease = prefix .. 'lease:' .. chosen
local history = prefix .. 'history:' .. chosen
local h = redis.call('HMGET', history, 'mark', 'time', 'reserved', 'host', 'pid', 'instance', 'incarnation', 'holder')
local previousHolder = h[8]

-- Every write below, checked before the first one is made.
local writes = {{'HSET', lease, 'token', token}, {'PEXPIRE', lease, tostring(ttl)}, {'HSET', history, 'holder', instance},
  {'HSET', KEYS[1], instance, tostring(chosen)}}
if previousHolder and previousHolder ~= instance then
  writes[#writes + 1] = {'HDEL', KEYS[1], previousHolder}
end
if #missingSettings > 0 then
  writes[#writes + 1] = {'HSET', KEYS[2], missingSettings[1], fleet[missingSettings[1]]}
end
if writeGeneration then
  writes[#writes + 1] = {'SET', prefix .. 'generation', generation}
end
writes[#writes + 1] = {'ZADD', leasesKey, '0', '0'}
if fresh ~= freshBefore then
  writes[#writes + 1] = {'SET', freshKey, '0'}
end
for _, w in ipairs(writes) do
  if mayNot(unpack(w)) then
    return denied(w[1], w[2])
  end
end

if writeGeneration then
  redis.call('SET', prefix .. 'generation', generation)
end
if #missingSettings > 0 then
  for _, k in ipairs(missingSettings) do
    redis.call('HSET', KEYS[2], k, fleet[k])
  end
  if firstToRecord then
    redis.call('HSET', KEYS[2], 'first.host', host, 'first.instance', instance, 'first.at', nowText)
  end
end

-- The mark this holder starts past ("base"): what it releases never goes below it (see release.lua).
redis.call('HSET', lease, 'token', token, 'host', host, 'pid', pid, 'instance', instance, 'since', nowText, 'base', h[1] or '')
redis.call('PEXPIRE', lease, ttl)
if previousHolder and previousHolder ~= instance and redis.call('HGET', KEYS[1], previousHolder) == tostring(chosen) then
  redis.call('HDEL', KEYS[1], previousHolder)
end
redis.call('HSET', history, 'holder', instance)
redis.call('HSET', KEYS[1], instance, tostring(chosen))
writeIndex()
redis.call('ZADD', leasesKey, string.format('%.0f', now + ttl), chosen)

-- A mark another incarnation wrote (the server restarted since, or failed over) may come from an old snapshot or a
-- replica that missed the last reports: a holder still live may have reported past it, and its lease key is gone. It
-- is still a lower bound (no earlier holder reported less), so it is handed over as one (Handover.atLeast): the core
-- starts past the later of it and the longest lease an earlier holder could still hold.
local trust = ''
if h[1] then
  trust = (h[7] == incarnation) and 'same' or 'other'
end
-- The generation and the epoch (renew.lua's counter) let the caller compare the data with what its host saw of it.
return {'granted', tostring(chosen), nowText, h[1] or '', trust, h[2] or '', h[3] or '', h[4] or '', h[5] or '', h[6] or '',
  generation, redis.call('GET', prefix .. 'epoch') or '0'}

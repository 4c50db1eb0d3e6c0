--[[
  opsdeck: discards failed BullMQ jobs, each only while it is still in the failed set (and,
  with ARGV[2], failed no later than then) and no worker holds its lock, with the moves
  BullMQ's own removal of a job makes: out of `failed`; out of its parent's pending
  dependencies (a parent left with none stops waiting for its children); its deduplication
  key when it still names this job; its hash, logs and dependency keys; a `removed` event.
  Its own children, which are jobs of their own, are left as they are.

  ARGV[1]   the queue's key prefix, "<prefix>:<queue>:"
  ARGV[2]   failed no later than (ms), or ""
  ARGV[3..] job ids

  Returns { "unsupported", version } for a meta.version other than bullmq 5.x or 6.x (nothing
  removed), else the script's own time in µs, then one code per id: 1 removed, -1 gone,
  -2 locked, -3 not failed any more, -4 failed later.
]]
local rcall = redis.call
local started = rcall("TIME")
local base = ARGV[1]
local notAfter = tonumber(ARGV[2])
local meta = rcall("HMGET", base .. "meta", "version", "opts.maxLenEvents")
local major = meta[1] and string.match(meta[1], "^bullmq:([56])%.")
if not major then
  return { "unsupported", meta[1] or "" }
end
local maxEvents = meta[2] or 10000
local failed = base .. "failed"
local events = base .. "events"

local function releaseParent(jobKey, parentKey)
  if not parentKey or parentKey == "" or rcall("EXISTS", parentKey) == 0 then
    return
  end
  local pending = parentKey .. ":dependencies"
  if rcall("SREM", pending, jobKey) == 1 and rcall("SCARD", pending) == 0 then
    local parentId = string.match(parentKey, "([^:]+)$")
    local parentBase = string.sub(parentKey, 1, string.len(parentKey) - string.len(parentId))
    if rcall("ZREM", parentBase .. "waiting-children", parentId) == 1 then
      local parentMeta = rcall("HMGET", parentBase .. "meta", "version", "paused")
      local target = parentBase .. "wait"
      if parentMeta[2] and parentMeta[1] and string.match(parentMeta[1], "^bullmq:5%.") then
        target = parentBase .. "paused"
      end
      rcall("RPUSH", target, parentId)
      if not parentMeta[2] then
        rcall("ZADD", parentBase .. "marker", 0, "0")
      end
      rcall("XADD", parentBase .. "events", "*", "event", "waiting", "jobId", parentId,
        "prev", "waiting-children")
    end
  end
end

local ids = { unpack(ARGV, 3) }
-- One ZMSCORE for the chunk (Redis 6.2+), else one ZSCORE per id.
local ok, scores = pcall(rcall, "ZMSCORE", failed, unpack(ids))
if not ok then
  scores = {}
  for i, id in ipairs(ids) do
    scores[i] = rcall("ZSCORE", failed, id)
  end
end

local codes = {}
-- Ids leave `failed` in one call for the whole chunk.
local removed = {}
local seen = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local jobKey = base .. id
  local score = scores[i - 2]
  if seen[id] or (score and notAfter and tonumber(score) > notAfter) then
    codes[#codes + 1] = seen[id] and -3 or -4
  elseif not score then
    codes[#codes + 1] = rcall("EXISTS", jobKey) == 1 and -3 or -1
  else
    local job = rcall("HMGET", jobKey, "parentKey", "deid", "opts")
    seen[id] = true
    if not job[3] and rcall("EXISTS", jobKey) == 0 then
      -- An id left in the set without its job: only the id to remove.
      removed[#removed + 1] = id
      codes[#codes + 1] = -1
    elseif rcall("EXISTS", jobKey .. ":lock") == 1 then
      codes[#codes + 1] = -2
    else
      removed[#removed + 1] = id
      releaseParent(jobKey, job[1])
      if job[2] then
        local dedupKey = base .. "de:" .. job[2]
        if rcall("GET", dedupKey) == id then
          rcall("DEL", dedupKey, base .. "dn:" .. job[2])
        end
      end
      rcall("DEL", jobKey, jobKey .. ":logs", jobKey .. ":dependencies", jobKey .. ":processed",
        jobKey .. ":failed", jobKey .. ":unsuccessful")
      rcall("XADD", events, "MAXLEN", "~", maxEvents, "*", "event", "removed", "jobId", id,
        "prev", "failed")
      codes[#codes + 1] = 1
    end
  end
end

if #removed > 0 then
  rcall("ZREM", failed, unpack(removed))
end
-- Redis's own time for this script, in µs, first.
local finished = rcall("TIME")
table.insert(codes, 1, (finished[1] - started[1]) * 1000000 + (finished[2] - started[2]))
return codes

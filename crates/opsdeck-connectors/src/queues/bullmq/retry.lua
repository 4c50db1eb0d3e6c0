--[[
  opsdeck: retries failed BullMQ jobs, each only while it is still in the failed set (and,
  with ARGV[2], failed no later than then), with the moves BullMQ's own retry makes:
  out of `failed`; finishedOn, processedOn and failedReason cleared (attempts kept, as
  BullMQ keeps them); into `prioritized` with a fresh score from the priority counter when
  it has a priority, else pushed on `wait` (its tail for a lifo job) — or, on a paused queue
  of BullMQ 5, on `paused`; a failed child back among its parent's pending dependencies; a
  `waiting` event each; and the marker that wakes workers unless the queue is paused or at
  its concurrency.

  ARGV[1]   the queue's key prefix, "<prefix>:<queue>:"
  ARGV[2]   failed no later than (ms), or ""
  ARGV[3..] job ids, each once (the caller drops repeats)

  Returns { "unsupported", version } for a meta.version other than bullmq 5.x or 6.x (nothing
  moved), else the script's own time in µs, then one code per id: 1 retried, -1 gone, -3
  not failed any more, -4 failed later.
]]
local rcall = redis.call
local started = rcall("TIME")
local base = ARGV[1]
local notAfter = tonumber(ARGV[2])
local meta = rcall("HMGET", base .. "meta", "version", "paused", "concurrency", "opts.maxLenEvents")
local major = meta[1] and string.match(meta[1], "^bullmq:([56])%.")
if not major then
  return { "unsupported", meta[1] or "" }
end

local paused = meta[2] ~= false
local maxed = false
if not paused and meta[3] then
  maxed = rcall("LLEN", base .. "active") >= tonumber(meta[3])
end
local maxEvents = meta[4] or 10000
local target = base .. "wait"
if paused and major == "5" then
  target = base .. "paused"
end
local failed = base .. "failed"
local events = base .. "events"

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
-- Ids leave `failed` and join `wait` in one call each for the whole chunk, in the order
-- given (LPUSH of many ids pushes them one after the other).
local retried = {}
local head = {}
local tail = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local jobKey = base .. id
  local score = scores[i - 2]
  if score and notAfter and tonumber(score) > notAfter then
    codes[#codes + 1] = -4
  elseif not score then
    codes[#codes + 1] = rcall("EXISTS", jobKey) == 1 and -3 or -1
  else
    local job = rcall("HMGET", jobKey, "priority", "opts", "parentKey")
    if not job[2] and rcall("EXISTS", jobKey) == 0 then
      -- An id left in the set without its job: nothing to retry.
      codes[#codes + 1] = -1
    else
      retried[#retried + 1] = id
      rcall("HDEL", jobKey, "finishedOn", "processedOn", "failedReason")
      local priority = tonumber(job[1]) or 0
      if priority > 0 then
        local counter = rcall("INCR", base .. "pc")
        rcall("ZADD", base .. "prioritized", priority * 0x100000000 + counter % 0x100000000, id)
      elseif job[2] and string.find(job[2], '"lifo":true', 1, true) then
        tail[#tail + 1] = id
      else
        head[#head + 1] = id
      end
      local parentKey = job[3]
      if parentKey and rcall("EXISTS", parentKey) == 1 then
        if rcall("ZREM", parentKey .. ":unsuccessful", jobKey) == 1
          or rcall("HDEL", parentKey .. ":failed", jobKey) == 1 then
          rcall("SADD", parentKey .. ":dependencies", jobKey)
        end
      end
      rcall("XADD", events, "MAXLEN", "~", maxEvents, "*", "event", "waiting", "jobId", id,
        "prev", "failed")
      codes[#codes + 1] = 1
    end
  end
end

if #retried > 0 then
  rcall("ZREM", failed, unpack(retried))
  if #head > 0 then
    rcall("LPUSH", target, unpack(head))
  end
  if #tail > 0 then
    rcall("RPUSH", target, unpack(tail))
  end
  if not paused and not maxed then
    rcall("ZADD", base .. "marker", 0, "0")
  end
end
-- Redis's own time for this script, in µs, first.
local finished = rcall("TIME")
table.insert(codes, 1, (finished[1] - started[1]) * 1000000 + (finished[2] - started[2]))
return codes

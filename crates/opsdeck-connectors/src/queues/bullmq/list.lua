--[[
  opsdeck: one page of a BullMQ queue's jobs in one of its lists or sorted sets, read only.

  KEYS[1] the list or sorted set
  ARGV[1] the queue's key prefix, "<prefix>:<queue>:"
  ARGV[2] "list" (head first), "asc" or "rev" (sorted set, lowest or highest score first)
  ARGV[3] offset to start at
  ARGV[4] the last id of the previous page, or "": a sorted set resumes after it while it is
          still there, so jobs added or removed above it do not shift the page
  ARGV[5] how many
  ARGV[6] "ids" (ids and scores only), "fields", or "data" (fields and the payload)

  Returns { "unsupported", version } for a meta.version other than bullmq 5.x or 6.x, else
  { start, rows... } with rows { id, score } or
  { id, score, name, timestamp, atm, failedReason, finishedOn, processedOn, opts, data }.
]]
local rcall = redis.call
local base = ARGV[1]
local version = rcall("HGET", base .. "meta", "version")
if not (version and (string.match(version, "^bullmq:5%.") or string.match(version, "^bullmq:6%."))) then
  return { "unsupported", version or "" }
end

local key = KEYS[1]
local kind = ARGV[2]
local start = tonumber(ARGV[3])
local after = ARGV[4]
local count = tonumber(ARGV[5])
local mode = ARGV[6]

local ids
if kind == "list" then
  ids = rcall("LRANGE", key, start, start + count - 1)
else
  if after ~= "" then
    local rank
    if kind == "rev" then
      rank = rcall("ZREVRANK", key, after)
    else
      rank = rcall("ZRANK", key, after)
    end
    if rank then
      start = rank + 1
    end
  end
  if kind == "rev" then
    ids = rcall("ZREVRANGE", key, start, start + count - 1, "WITHSCORES")
  else
    ids = rcall("ZRANGE", key, start, start + count - 1, "WITHSCORES")
  end
end

local step = 1
if kind ~= "list" then
  step = 2
end

-- Bounds what one page carries back: a reason, options or a payload can be of any size.
local function bounded(text, max)
  if text and string.len(text) > max then
    return false
  end
  return text
end

local out = { start }
for i = 1, #ids, step do
  local id = ids[i]
  local score = false
  if step == 2 then
    score = ids[i + 1]
  end
  if mode == "ids" then
    out[#out + 1] = { id, score }
  else
    local f = rcall("HMGET", base .. id, "name", "timestamp", "atm", "failedReason",
      "finishedOn", "processedOn", "opts", "data")
    local reason = f[4]
    if reason and string.len(reason) > 2000 then
      reason = string.sub(reason, 1, 2000)
    end
    local data = false
    if mode == "data" then
      data = bounded(f[8], 65536)
    end
    out[#out + 1] = { id, score, f[1], f[2], f[3], reason, f[5], f[6], bounded(f[7], 8192), data }
  end
end
return out

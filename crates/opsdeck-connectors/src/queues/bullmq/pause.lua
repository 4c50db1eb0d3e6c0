--[[
  opsdeck: pauses or resumes a BullMQ queue as BullMQ does. Pause: meta.paused set, the
  marker removed so idle workers fetch nothing (BullMQ 5 also moves `wait` to `paused`), a
  `paused` event. Resume: meta.paused cleared, jobs of a `paused` list moved back to `wait`
  (BullMQ 5's, or one left by an older version), the marker set when jobs wait (or, for
  the next delayed job, scored at its time), a `resumed` event.

  ARGV[1] the queue's key prefix, "<prefix>:<queue>:"
  ARGV[2] "pause", "resume", or "drain" (only moves what is left of a long `paused` list)

  Returns { "unsupported", version } for a meta.version other than bullmq 5.x or 6.x, else
  the number of jobs still in `paused` to move back (a long list is moved in parts).
]]
local rcall = redis.call
local base = ARGV[1]
local action = ARGV[2]
local metaKey = base .. "meta"
local meta = rcall("HMGET", metaKey, "version", "opts.maxLenEvents")
local major = meta[1] and string.match(meta[1], "^bullmq:([56])%.")
if not major then
  return { "unsupported", meta[1] or "" }
end
local maxEvents = meta[2] or 10000
local wait = base .. "wait"
local pausedList = base .. "paused"
local marker = base .. "marker"

-- Moves `from` onto the consuming end of `to`, oldest last, keeping their order; a long
-- list in parts of 5000.
local function moveList(from, to)
  if rcall("EXISTS", from) == 0 then
    return 0
  end
  if rcall("EXISTS", to) == 0 then
    rcall("RENAME", from, to)
    return 0
  end
  local part = rcall("LRANGE", from, 0, 4999)
  rcall("RPUSH", to, unpack(part))
  rcall("LTRIM", from, #part, -1)
  return rcall("LLEN", from)
end

if action == "pause" then
  rcall("HSET", metaKey, "paused", 1)
  if major == "5" then
    moveList(wait, pausedList)
  end
  rcall("DEL", marker)
  rcall("XADD", base .. "events", "MAXLEN", "~", maxEvents, "*", "event", "paused")
  return 0
end

local left = moveList(pausedList, wait)
if action == "resume" then
  rcall("HDEL", metaKey, "paused")
  rcall("XADD", base .. "events", "MAXLEN", "~", maxEvents, "*", "event", "resumed")
end
if rcall("LLEN", wait) + rcall("ZCARD", base .. "prioritized") > 0 then
  rcall("ZADD", marker, 0, "0")
else
  local next = rcall("ZRANGE", base .. "delayed", 0, 0, "WITHSCORES")
  if next[2] then
    rcall("ZADD", marker, tonumber(next[2]) / 0x1000, "1")
  end
end
return left

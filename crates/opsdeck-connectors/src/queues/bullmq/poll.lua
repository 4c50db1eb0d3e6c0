--[[
  opsdeck: counts of BullMQ queues, read only, each with O(1) commands.

  ARGV[1]   failures counted since (ms, the failed zset's score is finishedOn)
  ARGV[2..] each queue's key prefix, "<prefix>:<queue>:"

  Returns, per queue, a row:
    { version, "unsupported" } when meta.version is not bullmq 5.x or 6.x (nothing else read)
    { false, "gone" }          when the queue has no meta hash any more
    { version, paused, wait, paused list, active, prioritized, delayed, failed, completed,
      waiting-children, failed since ARGV[1], oldest waiting job's timestamp or false }
  and, last, the number of commands run.
]]
local rcall = redis.call
local since = ARGV[1]
local rows = {}
local calls = 0

local function supported(version)
  return version and (string.match(version, "^bullmq:5%.") or string.match(version, "^bullmq:6%."))
end

local function tailTimestamp(base, listKey)
  local id = rcall("LINDEX", listKey, -1)
  calls = calls + 1
  if id then
    calls = calls + 1
    return rcall("HGET", base .. id, "timestamp") or false
  end
  return false
end

for i = 2, #ARGV do
  local base = ARGV[i]
  local meta = rcall("HMGET", base .. "meta", "version", "paused")
  calls = calls + 1
  local version = meta[1]
  if not version and rcall("EXISTS", base .. "meta") == 0 then
    calls = calls + 1
    rows[#rows + 1] = { false, "gone" }
  elseif not supported(version) then
    rows[#rows + 1] = { version or "", "unsupported" }
  else
    local wait = rcall("LLEN", base .. "wait")
    local pausedList = rcall("LLEN", base .. "paused")
    local prioritized = rcall("ZCARD", base .. "prioritized")
    local oldest = false
    if wait > 0 then
      oldest = tailTimestamp(base, base .. "wait")
    elseif pausedList > 0 then
      oldest = tailTimestamp(base, base .. "paused")
    elseif prioritized > 0 then
      -- No cheap "oldest" in a zset ordered by priority: the next job to run stands in.
      local first = rcall("ZRANGE", base .. "prioritized", 0, 0)
      calls = calls + 1
      if first[1] then
        oldest = rcall("HGET", base .. first[1], "timestamp") or false
        calls = calls + 1
      end
    end
    rows[#rows + 1] = {
      version,
      meta[2] and 1 or 0,
      wait,
      pausedList,
      rcall("LLEN", base .. "active"),
      prioritized,
      rcall("ZCARD", base .. "delayed"),
      rcall("ZCARD", base .. "failed"),
      rcall("ZCARD", base .. "completed"),
      rcall("ZCARD", base .. "waiting-children"),
      rcall("ZCOUNT", base .. "failed", since, "+inf"),
      oldest
    }
    calls = calls + 10
  end
end

rows[#rows + 1] = calls
return rows
